using CsCheck;
using ModelGen.Compiler.IR;
using ModelGen.Compiler.Planning;
using Xunit;
using Buffer = ModelGen.Compiler.Planning.Buffer;

namespace ModelGen.Tests;

/// <summary>The static memory planner: safety on random graphs (CsCheck) and never worse than TFLM's greedy planner.</summary>
public class MemoryPlanTests
{
    static readonly Gen<Buffer[]> Buffers =
        Gen.Select(Gen.Int[1, 5000], Gen.Int[0, 40], Gen.Int[0, 12], (size, first, len) => (size, first, len))
           .Array[1, 60]
           .Select(a => a.Select((t, i) => new Buffer { Value = new Value("t" + i), Pool = DType.Float, Elements = t.size, FirstStep = t.first, LastStep = t.first + t.len }).ToArray());

    static void AssertNoLiveOverlap(Buffer[] bs)
    {
        foreach (var a in bs)
            foreach (var b in bs)
                if (a != b && a.Overlaps(b))
                    Assert.True(a.Offset + a.Elements <= b.Offset || b.Offset + b.Elements <= a.Offset,
                        $"{a.Value.Name} [{a.Offset},{a.Offset + a.Elements}) and {b.Value.Name} [{b.Offset},{b.Offset + b.Elements}) are live together and overlap");
    }

    /// <summary>An independent implementation of TensorFlow Lite Micro's GreedyMemoryPlanner (largest first, lowest gap), as the baseline.</summary>
    internal static long TflmGreedy(Buffer[] bs)
    {
        var order = bs.Select((b, i) => i).OrderByDescending(i => bs[i].Elements).ThenBy(i => bs[i].FirstStep).ToArray();
        var off = new long[bs.Length];
        var done = new List<int>();
        long high = 0;
        foreach (var i in order)
        {
            long o = 0;
            bool moved = true;
            while (moved)
            {
                moved = false;
                foreach (var j in done)
                    if (bs[i].Overlaps(bs[j]) && o < off[j] + bs[j].Elements && off[j] < o + bs[i].Elements) { o = off[j] + bs[j].Elements; moved = true; }
            }
            off[i] = o; done.Add(i);
            high = Math.Max(high, o + bs[i].Elements);
        }
        return high;
    }

    static long LowerBound(Buffer[] bs) => Enumerable.Range(0, 60).Max(s => bs.Where(b => b.FirstStep <= s && s <= b.LastStep).Sum(b => (long)b.Elements));

    static readonly DType[] Types = { DType.Float, DType.Int8, DType.UInt8, DType.Int16, DType.Int32, DType.Int64, DType.Double, DType.Bool };

    /// <summary>Buffers of mixed element types, as an Int8 build has (int8 activations, int16 kernel scratch, float edges).</summary>
    static readonly Gen<Buffer[]> MixedBuffers =
        Gen.Select(Gen.Int[1, 5000], Gen.Int[0, 40], Gen.Int[0, 12], Gen.Int[0, Types.Length - 1], (size, first, len, type) => (size, first, len, type))
           .Array[1, 60]
           .Select(a => a.Select((t, i) => new Buffer { Value = new Value("t" + i), Pool = Types[t.type], Elements = t.size, FirstStep = t.first, LastStep = t.first + t.len }).ToArray());

    /// <summary>
    /// The Net profile's plan: one byte space for every type. In bytes, no two live buffers overlap; each offset is a
    /// whole number of its type's elements, 64-byte aligned from 64 bytes up; every pool's view (from byte 0) holds its
    /// buffers; the arena is at least the lower bound and at most TFLM's greedy over the same bytes.
    /// </summary>
    [Fact]
    public void SharedArenaKeepsLiveTensorsOfEveryTypeApart()
    {
        MixedBuffers.Sample(bs =>
        {
            var plan = MemoryPlan.Build(bs, 60, shared: true);
            var bytes = bs.Select(b => new Buffer { Value = b.Value, Pool = DType.UInt8, Elements = b.Elements * DTypes.Size(b.Pool), FirstStep = b.FirstStep, LastStep = b.LastStep, Offset = b.Offset * DTypes.Size(b.Pool) }).ToArray();
            AssertNoLiveOverlap(bytes);
            Assert.All(bytes, b => Assert.True(b.Offset % (b.Elements >= 64 ? 64 : 16) == 0, $"{b.Value.Name} at byte {b.Offset}"));
            Assert.All(bs, b => Assert.True(b.Offset + b.Elements <= plan.Pools.Single(p => p.Type == b.Pool).Elements, $"{b.Value.Name} past its pool's view"));
            Assert.True(plan.ArenaBytes >= plan.LowerBoundBytes);
            // against TFLM at the same alignment: sizes rounded to 64 bytes on both sides (greedy orders by size, so
            // rounding on one side only changes its order)
            var aligned = bs.Select(b => new Buffer { Value = b.Value, Pool = b.Pool, Elements = MemoryPlan.Align(b.Elements * DTypes.Size(b.Pool), 64) / DTypes.Size(b.Pool), FirstStep = b.FirstStep, LastStep = b.LastStep }).ToArray();
            long tflm = TflmGreedy(aligned.Select(b => new Buffer { Value = b.Value, Pool = DType.UInt8, Elements = b.Elements * DTypes.Size(b.Pool), FirstStep = b.FirstStep, LastStep = b.LastStep }).ToArray());
            long ours = MemoryPlan.Build(aligned, 60, shared: true).ArenaBytes;
            Assert.True(ours <= tflm, $"arena {ours} > TFLM greedy {tflm}");
        }, iter: 1000);
    }

    [Fact]
    public void NoTwoLiveTensorsOverlapOnRandomGraphs()
    {
        Buffers.Sample(bs =>
        {
            MemoryPlan.PlaceBest(bs, 4);
            AssertNoLiveOverlap(bs);
            Assert.All(bs, b => Assert.True(b.Offset % (b.Elements * 4 >= 64 ? 16 : 4) == 0, "alignment"));
        }, iter: 500);
    }

    [Fact]
    public void EveryStrategyIsSafe()
    {
        Buffers.Sample(bs =>
        {
            foreach (var (_, order) in MemoryPlan.Strategies)
            {
                MemoryPlan.Place(bs, 4, order(bs));
                AssertNoLiveOverlap(bs);
            }
        }, iter: 200);
    }

    [Fact]
    public void NeverLargerThanTflmGreedyAndNeverBelowTheLowerBound()
    {
        // alignment is what TFLM's planner skips: compare with 1-byte elements rounded to our 16-element alignment
        Buffers.Sample(bs =>
        {
            var aligned = bs.Select(b => new Buffer { Value = b.Value, Pool = b.Pool, Elements = (b.Elements + 15) / 16 * 16, FirstStep = b.FirstStep, LastStep = b.LastStep }).ToArray();
            long ours = MemoryPlan.Place(aligned, 4, MemoryPlan.Strategies[0].Order(aligned));
            MemoryPlan.PlaceBest(aligned, 4);
            long best = aligned.Max(b => (long)b.Offset + b.Elements);
            Assert.True(best <= TflmGreedy(aligned), $"planner {best} > TFLM greedy {TflmGreedy(aligned)}");
            Assert.True(best <= ours);
            Assert.True(best >= LowerBound(aligned));
        }, iter: 300);
    }
}
