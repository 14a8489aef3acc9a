using System.Reflection;
using System.Reflection.Emit;
using System.Runtime.CompilerServices;
using Xunit;

namespace ModelGen.Tests;

/// <summary>
/// Every method of ModelGen.Runtime with a loop is compiled fully optimized at its first call (AggressiveOptimization)
/// or inlined into one that is (AggressiveInlining). Left to tiered compilation, a kernel can stay at tier 0 while the
/// process keeps compiling new methods (each postpones tier-up by 100 ms): SqueezeNet's max pools ran at twice their
/// time inside a benchmark that also ran ONNX Runtime. NativeAOT builds are unaffected; JIT users are not.
/// </summary>
public class TieringTests
{
    [Fact]
    public void RuntimeLoopsAreNeverTiered()
    {
        var ops = typeof(OpCodes).GetFields(BindingFlags.Public | BindingFlags.Static).Select(f => (OpCode)f.GetValue(null)!)
            .ToDictionary(o => o.Value);
        var missing = new List<string>();
        foreach (var t in typeof(ModelGen.Runtime.Conv).Assembly.GetTypes())
            foreach (var m in t.GetMethods(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static | BindingFlags.Instance | BindingFlags.DeclaredOnly))
            {
                var il = m.GetMethodBody()?.GetILAsByteArray();
                if (il == null || !HasBackwardBranch(il, ops)) continue;
                var flags = m.MethodImplementationFlags;
                if ((flags & (MethodImplAttributes.AggressiveOptimization | MethodImplAttributes.AggressiveInlining)) == 0)
                    missing.Add($"{t.Name}.{m.Name}");
            }
        Assert.True(missing.Count == 0, "loops without AggressiveOptimization: " + string.Join(", ", missing.Distinct()));
    }

    /// <summary>True where some branch jumps back (a loop), reading the IL opcode by opcode.</summary>
    static bool HasBackwardBranch(byte[] il, Dictionary<short, OpCode> ops)
    {
        for (int i = 0; i < il.Length;)
        {
            var op = ops[il[i] == 0xFE ? (short)(0xFE00 | il[i + 1]) : il[i]];
            int at = i + op.Size;
            int size = op.OperandType switch
            {
                OperandType.InlineNone => 0,
                OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar => 1,
                OperandType.InlineVar => 2,
                OperandType.InlineI8 or OperandType.InlineR => 8,
                OperandType.InlineSwitch => 4 + 4 * BitConverter.ToInt32(il, at),
                _ => 4,
            };
            if (op.OperandType == OperandType.ShortInlineBrTarget && (sbyte)il[at] < 0) return true;
            if (op.OperandType == OperandType.InlineBrTarget && BitConverter.ToInt32(il, at) < 0) return true;
            i = at + size;
        }
        return false;
    }
}
