using System.Linq;
using ModelGen.Compiler.Emit;

namespace ModelGen.Compiler.Operators;

/// <summary>Nested loops over a shape with constant bounds, and flat index expressions over their variables.</summary>
public static class Loops
{
    /// <summary>Opens one loop per dimension (dims of size 1 get the constant 0 instead of a loop); returns the index expressions.</summary>
    public static string[] Open(EmitContext e, int[] shape, string hint = "i")
    {
        var vars = new string[shape.Length];
        for (int d = 0; d < shape.Length; d++)
        {
            if (shape[d] == 1) { vars[d] = "0"; continue; }
            vars[d] = e.Var(hint);
            e.W.Open($"for (int {vars[d]} = 0; {vars[d]} < {shape[d]}; {vars[d]}++)");
        }
        return vars;
    }

    public static void Close(EmitContext e, int[] shape)
    {
        foreach (var d in shape) if (d != 1) e.W.Close();
    }

    /// <summary>sum(vars[d] * strides[d]) as a readable expression.</summary>
    public static string Flat(string[] vars, int[] strides)
        => Idx.Sum(vars.Select((v, d) => v == "0" ? "" : Idx.Mul(v, strides[d])).ToArray());
}
