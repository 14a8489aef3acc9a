using System.Collections.Generic;
using System.Linq;
using ModelGen.Compiler.Emit;
using ModelGen.Compiler.IR;

namespace ModelGen.Compiler.Planning;

/// <summary>
/// Concatenation in place: where a Concat's inputs lie whole and back to back in its output (every dimension before
/// the axis 1: NCHW channels of one image, and channel blocks of 16, ChannelBlocking's layout), each input that a node
/// of the main graph writes to the arena becomes a slice of the output: the producer writes straight into it and the
/// Concat copies only the inputs left (SqueezeNet's fire modules, Inception's branches, DenseNet's first concatenations).
/// The planner places the output once for all its slices (their uses count as its uses), so the copies go and the inputs'
/// own buffers with them. An input qualifies once (one concatenation per tensor, never twice in one), when its offset
/// in the output keeps the arena's 64-byte alignment. Nested concatenations slice slices. Switch: DisabledPasses=InPlaceConcat.
/// </summary>
internal static class ConcatSlices
{
    public const string Name = "InPlaceConcat";

    public static void Apply(Graph g, Dictionary<Value, Storage> storage)
    {
        var nodes = new HashSet<Node>(g.Nodes);
        foreach (var n in g.Nodes)
        {
            if (n.Domain != "" || n.OpType != "Concat" || n.Outputs.Count != 1 || n.State is not int axis) continue;
            var y = n.Out();
            if (!storage.TryGetValue(y, out var ys) || ys.Kind != StorageKind.Arena || y.Shape.Take(axis).Any(d => d != 1)) continue;
            int size = DTypes.Size(y.Type), at = 0;
            foreach (var x in n.Inputs)
            {
                int offset = at;
                at += x.Length;
                if (x.Length == 0 || x.Length >= y.Length || n.Inputs.Count(v => v == x) > 1 || (long)offset * size % MemoryPlan.AlignBytes != 0) continue;
                if (x.Producer == null || !nodes.Contains(x.Producer) || !storage.TryGetValue(x, out var xs) || xs.Kind != StorageKind.Arena || xs.SliceOf != null) continue;
                storage[x] = new Storage { Kind = StorageKind.Arena, Name = xs.Name, SliceOf = y, SliceOffset = offset };
            }
        }
    }

    /// <summary>After planning: each slice's offset in its pool (its output's, nested ones resolved, plus its own).</summary>
    public static void Resolve(Dictionary<Value, Storage> storage)
    {
        int Offset(Storage s) => s.SliceOf == null ? s.Offset : Offset(storage[s.SliceOf]) + s.SliceOffset;
        foreach (var s in storage.Values.Where(s => s.SliceOf != null).ToList()) s.Offset = Offset(s);
    }
}
