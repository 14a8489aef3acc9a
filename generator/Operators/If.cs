using ModelGen.Compiler.Emit;
using ModelGen.Compiler.IR;

namespace ModelGen.Compiler.Operators;

/// <summary>
/// If: resolved by the importer (a known condition inlines its branch; otherwise both branches become subgraphs)
/// and emitted by the model emitter as a C# if/else. This row only marks the operator as supported.
/// </summary>
public sealed class If : Operator
{
    public override void Infer(Node n) => throw new CompileException(Diag.InternalError, "If is resolved by the importer");
    public override void Emit(Node n, EmitContext e) => throw new CompileException(Diag.InternalError, "If is emitted by the model emitter");
}
