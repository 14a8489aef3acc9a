using System;
using System.Collections.Generic;
using System.Linq;
using ModelGen.Compiler.IR;

namespace ModelGen.Compiler.Planning;

/// <summary>One tensor to place in the arena: its size and the steps during which it is live (inclusive).</summary>
public sealed class Buffer
{
    public Value Value { get; init; }
    public DType Pool { get; init; }
    public int Elements { get; init; }
    public int FirstStep { get; set; }
    public int LastStep { get; set; }
    public int Offset { get; set; } = -1;
    public bool Overlaps(Buffer o) => FirstStep <= o.LastStep && o.FirstStep <= LastStep;
}

/// <summary>The static memory plan: element offsets per element-type pool, pool sizes, and the lower bound.</summary>
public sealed class MemoryPlan
{
    /// <summary>Pool order in the byte arena (Net) and their element counts.</summary>
    public List<(DType Type, int Elements, int ByteOffset)> Pools { get; } = new();
    public List<Buffer> Buffers { get; } = new();
    public int ArenaBytes { get; set; }
    /// <summary>The placement order that gave the smallest arena (per pool).</summary>
    public string Strategy { get; set; }
    /// <summary>Largest total bytes of tensors live at one step: no plan of this schedule can be smaller.</summary>
    public int LowerBoundBytes { get; set; }

    /// <summary>Offsets must keep SIMD-friendly alignment: 64 bytes.</summary>
    public const int AlignBytes = 64;

    /// <summary>Largest arena: a byte[] of it must be allocatable and int-indexed, alignment included.</summary>
    public const long MaxArenaBytes = int.MaxValue - 1024;

    /// <summary>Orders tried by the planner; the plan keeps the smallest arena (ties: the first listed).</summary>
    public static readonly (string Name, Func<IReadOnlyList<Buffer>, IEnumerable<Buffer>> Order)[] Strategies =
    {
        // TensorFlow Lite Micro's GreedyMemoryPlanner: largest first
        ("greedy-by-size", bs => bs.OrderByDescending(b => b.Elements).ThenBy(b => b.FirstStep)),
        // the buffers that conflict with the most bytes first
        ("greedy-by-conflict", bs => bs.OrderByDescending(b => bs.Where(o => o.Overlaps(b)).Sum(o => (long)o.Elements)).ThenByDescending(b => b.Elements).ThenBy(b => b.FirstStep)),
        // largest area in the (time, memory) plane first
        ("greedy-by-area", bs => bs.OrderByDescending(b => (long)b.Elements * (b.LastStep - b.FirstStep + 1)).ThenBy(b => b.FirstStep)),
        // schedule order, as a linear-scan allocator
        ("first-fit-in-order", bs => bs.OrderBy(b => b.FirstStep).ThenByDescending(b => b.Elements)),
    };

    /// <summary>Greedy by size (as TensorFlow Lite Micro's planner): largest first, each at the lowest offset that fits.</summary>
    public static void PlaceGreedyBySize(IReadOnlyList<Buffer> buffers, int elementSize) => Place(buffers, elementSize, Strategies[0].Order(buffers));

    /// <summary>Each buffer in the given order at the lowest aligned offset that fits beside the placed buffers it overlaps in time.</summary>
    public static long Place(IReadOnlyList<Buffer> buffers, int elementSize, IEnumerable<Buffer> order)
    {
        var placed = new List<Buffer>();
        long end = 0;
        foreach (var b in order)
        {
            // SIMD-sized tensors start on 64 bytes; small ones on 16, so tiny models do not waste most of their arena
            int alignElements = Math.Max(1, ((long)b.Elements * elementSize >= AlignBytes ? AlignBytes : 16) / elementSize);
            var conflicts = placed.Where(p => p.Overlaps(b)).OrderBy(p => p.Offset).ToList();
            long offset = 0;
            foreach (var p in conflicts)
            {
                if (offset + b.Elements <= p.Offset) break;
                offset = Math.Max(offset, (p.Offset + (long)p.Elements + alignElements - 1) / alignElements * alignElements);
            }
            if (offset + b.Elements > MaxArenaBytes)
                throw new CompileException(Diag.TensorTooLarge, $"the tensors live at the same time need more than {MaxArenaBytes} arena elements; the model is too large for one Predict");
            b.Offset = (int)offset;
            end = Math.Max(end, offset + b.Elements);
            placed.Add(b);
        }
        return end;
    }

    /// <summary>Tries every strategy and keeps the smallest pool; returns the strategy's name.</summary>
    public static string PlaceBest(IReadOnlyList<Buffer> buffers, int elementSize)
    {
        string best = null;
        long bestEnd = long.MaxValue;
        int[] bestOffsets = null;
        foreach (var (name, order) in Strategies)
        {
            long end = Place(buffers, elementSize, order(buffers));
            if (end >= bestEnd) continue;
            bestEnd = end; best = name;
            bestOffsets = buffers.Select(b => b.Offset).ToArray();
        }
        for (int i = 0; i < buffers.Count; i++) buffers[i].Offset = bestOffsets?[i] ?? 0;
        return best ?? Strategies[0].Name;
    }

    public static int Align(int v, int a) => (v + a - 1) / a * a;

    /// <summary>
    /// The plan of these buffers. <paramref name="shared"/> (Net: the arena is one byte span, each type's pool a cast of
    /// all of it): every buffer is placed in one byte space, so that tensors of different types that are never live
    /// together share memory (an Int8 build's int8 activations, int16 kernel scratch and float edges; with a pool per
    /// type DS-CNN's Int8 arena was the sum of three). Offsets stay in elements of the buffer's type: every offset is
    /// a multiple of 16 bytes. Otherwise (Portable: an array per type) a pool per element type, one after the other.
    /// </summary>
    public static MemoryPlan Build(IReadOnlyList<Buffer> buffers, int steps, bool shared = false)
    {
        var plan = shared ? Shared(buffers) : PerType(buffers);
        long bound = 0;
        for (int s = 0; s < steps; s++)
            bound = Math.Max(bound, buffers.Where(b => b.FirstStep <= s && s <= b.LastStep).Sum(b => (long)b.Elements * DTypes.Size(b.Pool)));
        plan.LowerBoundBytes = (int)Math.Min(bound, int.MaxValue);
        return plan;
    }

    static MemoryPlan Shared(IReadOnlyList<Buffer> buffers)
    {
        var plan = new MemoryPlan();
        plan.Buffers.AddRange(buffers);
        // the buffers in bytes, placed as one pool, then back to element offsets
        var bytes = buffers.Select(b => new Buffer { Value = b.Value, Pool = DType.UInt8, Elements = (int)Math.Min((long)b.Elements * DTypes.Size(b.Pool), int.MaxValue), FirstStep = b.FirstStep, LastStep = b.LastStep }).ToList();
        plan.Strategy = PlaceBest(bytes, 1);
        long end = bytes.Count == 0 ? 0 : bytes.Max(b => (long)b.Offset + b.Elements);
        if (end > MaxArenaBytes)
            throw new CompileException(Diag.TensorTooLarge, $"the tensors live at the same time need more than {MaxArenaBytes} bytes of arena; the model is too large for one Predict");
        for (int i = 0; i < buffers.Count; i++) buffers[i].Offset = bytes[i].Offset / DTypes.Size(buffers[i].Pool);
        plan.ArenaBytes = (int)end;
        foreach (var type in buffers.Select(b => b.Pool).Distinct().OrderBy(t => -DTypes.Size(t)).ThenBy(t => (int)t))
            plan.Pools.Add((type, (int)(end / DTypes.Size(type)), 0));
        return plan;
    }

    static MemoryPlan PerType(IReadOnlyList<Buffer> buffers)
    {
        var plan = new MemoryPlan();
        plan.Buffers.AddRange(buffers);
        long bytes = 0;
        foreach (var group in buffers.GroupBy(b => b.Pool).OrderBy(g => DTypes.Size(g.Key) * -1).ThenBy(g => (int)g.Key))
        {
            int size = DTypes.Size(group.Key);
            var list = group.ToList();
            var strategy = PlaceBest(list, size);
            if (plan.Strategy == null) plan.Strategy = strategy;
            else if (!plan.Strategy.Split('+').Contains(strategy)) plan.Strategy += "+" + strategy;
            long elements = list.Count == 0 ? 0 : list.Max(b => (long)b.Offset + b.Elements);
            // offsets and the arena are int in the generated code (spans and arrays are int-indexed)
            if (elements * size > MaxArenaBytes || bytes + elements * size > MaxArenaBytes)
                throw new CompileException(Diag.TensorTooLarge, $"the tensors live at the same time need more than {MaxArenaBytes} bytes of arena ({DTypes.OnnxName(group.Key)} pool alone: {elements * size} bytes); the model is too large for one Predict");
            bytes = Align((int)bytes, AlignBytes);
            plan.Pools.Add((group.Key, (int)elements, (int)bytes));
            bytes += elements * size;
        }
        plan.ArenaBytes = (int)bytes;
        return plan;
    }
}
