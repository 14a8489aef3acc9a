using BenchmarkDotNet.Running;

namespace ModelGen.Benchmarks;

public static class Program
{
    public static int Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "shapes")
        {
            foreach (var p in args.Skip(1)) OneOpModel.Dump(p);
            return 0;
        }
        if (args.Length > 0 && args[0] == "experiment")
        {
            Action run = (args.Length > 1 ? args[1] : "") switch
            {
                "pointwise" => Experiment.Pointwise,
                "wgemm" => Experiment.WeightGemms,
                "wconv" => Experiment.WeightConvs,
                "qdw" => Experiment.QDepthwise,
                "qconv" => Experiment.QConvolution,
                "qmatmul" => Experiment.QMatMul,
                "qrows" => Experiment.QRows,
                "panels" => () => PanelsExperiment.Run(args),
                "qpeak" => Experiment.QPeak,
                "dwctx" => Experiment.DwContext,
                "align" => Experiment.Align,
                "gemv" => Experiment.Gemv,
                "inlining" => Experiment.Inlining,
                "pool" => Experiment.Pools,
                "smallconv" => Experiment.SmallConvs,
                "norm" => Experiment.Norms,
                "dwpaths" => Experiment.DwPaths,
                "epilogue" => () => Experiment.Epilogues(args.Length > 2 ? args[2] : null),
                "logistic" => Experiment.Logistic,
                "conv" => () => Experiment.OneConv(args[2]),
                "bdense" => () => Experiment.BlockedDense(args[2]),
                _ => Experiment.Run,
            };
            run();
            return 0;
        }
#if MODEL_BENCHMARKS
        if (args.Length > 0 && args[0] == "models")
        {
            QuickModels.Run(args.Length > 1 ? args[1] : null);
            return 0;
        }
        if (args.Length > 0 && args[0] == "layers")
        {
            LayerTimes.Run(args.Length > 1 ? args[1] : "ds_cnn");
            return 0;
        }
#endif
        if (args.Length > 0 && args[0] == "int8models")
        {
            if (args.Length > 1 && args[1] == "qoperator") Int8Models.QOperator();
            else Int8Models.Run(args.Length > 1 ? args[1] : null);
            return 0;
        }
        if (args.Length > 2 && args[0] == "abruntime")
        {
            AbRuntime.Run(args[1], args[2], args.Length > 3 ? args[3] : null);
            return 0;
        }
        if (args.Length > 2 && args[0] == "absource")
        {
            AbRuntime.Sources(args[1], args[2]);
            return 0;
        }
        if (args.Length > 1 && args[0] == "tryall")
        {
            TryModels.Run(args[1], args.Length > 2 ? args[2] : null);
            return 0;
        }
        if (args.Length > 0 && args[0] == "int8")
        {
            Int8Stack.Run();
            return 0;
        }
        if (args.Length > 0 && args[0] == "quick")
        {
            Quick.Run(args.Length > 1 ? args[1] : null);
            return 0;
        }
#if MODEL_BENCHMARKS
        // BenchmarkDotNet rebuilds this project for each run: MSBuild reads environment variables as properties, so this
        // keeps the models (and MODEL_BENCHMARKS) in its build too.
        Environment.SetEnvironmentVariable("ModelBenchmarks", "true");
#endif
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
        return 0;
    }
}
