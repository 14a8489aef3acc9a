using ModelGen.Compiler.Emit;
using ModelGen.Compiler.IR;

namespace ModelGen.Compiler.Operators;

/// <summary>
/// One ONNX operator: attribute validation and shape/type inference, a scalar reference evaluation
/// (used for constant folding and as a test oracle), and emission of C#.
/// Adding an operator = one file deriving from this + one row in <see cref="OperatorRegistry"/>.
/// </summary>
public abstract class Operator
{
    /// <summary>Validates attributes and inputs, sets every output's Type and Shape; may keep resolved data in node.State.</summary>
    public abstract void Infer(Node n);

    /// <summary>Reference evaluation on constant inputs (null entries: omitted optional inputs); null when not available.</summary>
    public virtual TensorData[] Evaluate(Node n, TensorData[] inputs) => null;

    /// <summary>Writes the C# that computes the node's outputs from its inputs.</summary>
    public abstract void Emit(Node n, EmitContext e);

    /// <summary>
    /// True when output 0 may overwrite an input of the same type and shape that dies at this node: the emitted
    /// code reads element i of that input before writing element i of the output (elementwise ops).
    /// </summary>
    public virtual bool ElementwiseInPlace => false;

    /// <summary>
    /// The input whose data is output 0's starting value (a residual the output accumulates onto), or -1: output 0
    /// may take over that input's buffer when it dies at this node (same type and shape, no other input aliasing it).
    /// </summary>
    public virtual int SharedInput(Node n) => -1;

    /// <summary>True when the result depends only on input shapes (Shape, Size): folded even when inputs are not constant.</summary>
    public virtual bool ShapeOnly => false;

    /// <summary>
    /// Working memory the emitted code needs while this node runs, beyond its outputs: element type and count
    /// (count 0 = none, the default; it may depend on the profile, whose emitted code may differ). The emitter places it
    /// in the arena, live during this node only (other nodes reuse the bytes), and <see cref="Emit"/> reaches it with
    /// <see cref="EmitContext.Scratch"/>. Its contents are undefined on entry.
    /// </summary>
    public virtual (DType Type, int Elements) Scratch(Node n, TargetProfile profile) => (DType.Float, 0);

    /// <summary>True when output 0 is input 0's data unchanged (Reshape, Flatten, Squeeze, Identity...): no code, no copy.</summary>
    public virtual bool IsView => false;

    protected static CompileException Error(string message) => new(Diag.InvalidModel, message);
    protected static CompileException Unsupported(string message) => new(Diag.UnsupportedAttribute, message);

    protected static void Require(Node n, int minInputs, int maxInputs = int.MaxValue)
    {
        int count = n.Inputs.Count;
        if (count < minInputs || count > maxInputs)
            throw Error($"{n.OpType} takes {(minInputs == maxInputs ? minInputs.ToString() : maxInputs == int.MaxValue ? minInputs + " or more" : minInputs + " to " + maxInputs)} inputs, got {count}");
        for (int i = 0; i < minInputs; i++)
            if (n.Inputs[i] == null) throw Error($"{n.OpType} input {i} is required");
    }

    /// <summary>Between min and max inputs, of which only those at <paramref name="required"/> must be present (the rest are optional, such as zero points).</summary>
    protected static void RequireSome(Node n, int minInputs, int maxInputs, params int[] required)
    {
        Require(n, 0, maxInputs);
        if (n.Inputs.Count < minInputs) throw Error($"{n.OpType} takes {minInputs} to {maxInputs} inputs, got {n.Inputs.Count}");
        foreach (var i in required)
            if (n.Inputs[i] == null) throw Error($"{n.OpType} input {i} is required");
    }

    protected static void RequireFloat(Node n, Value v)
    {
        if (!DTypes.IsFloat(v.Type)) throw new CompileException(Diag.UnsupportedType, $"{n.OpType} on {DTypes.OnnxName(v.Type)} '{v.Name}' is not supported (float and double only)");
    }

    protected static void SetOut(Node n, int i, DType type, int[] shape)
    {
        IR.Shape.Size(shape);
        n.Outputs[i].Type = type;
        n.Outputs[i].Shape = shape;
    }
}
