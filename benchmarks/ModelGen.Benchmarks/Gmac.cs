using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace ModelGen.Benchmarks;

/// <summary>Benchmarks whose cases do a known number of multiply-accumulates (per the "Case" parameter).</summary>
public interface IMacCount
{
    /// <summary>Multiply-accumulates of one operation for the named case.</summary>
    static abstract long Macs(string caseName);
}

/// <summary>A summary column: GMAC/s = MACs of the case (named by a parameter, "Case" unless told) / median time.</summary>
public sealed class GmacColumn : IColumn
{
    readonly Func<string, long> _macs;
    readonly string _parameter;
    public GmacColumn(Func<string, long> macs, string parameter = "Case") { _macs = macs; _parameter = parameter; }
    public string Id => "GMACs";
    public string ColumnName => "GMAC/s";
    public bool AlwaysShow => true;
    public ColumnCategory Category => ColumnCategory.Custom;
    public int PriorityInCategory => 0;
    public bool IsNumeric => true;
    public UnitType UnitType => UnitType.Dimensionless;
    public string Legend => "Multiply-accumulates per second (1e9), from the median time";
    public bool IsAvailable(Summary summary) => true;
    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);
    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        var report = summary[benchmarkCase];
        var name = benchmarkCase.Parameters[_parameter] as string;
        if (report?.ResultStatistics == null || name == null) return "-";
        double ns = report.ResultStatistics.Median;
        return (_macs(name) / ns).ToString("F2");
    }
}

/// <summary>Default config for the kernel benchmarks: median column, allocations, GMAC/s.</summary>
public sealed class KernelConfig<T> : ManualConfig where T : IMacCount
{
    public KernelConfig()
    {
        AddColumn(StatisticColumn.Median);
        AddColumn(new GmacColumn(T.Macs));
        AddDiagnoser(MemoryDiagnoser.Default);
    }
}
