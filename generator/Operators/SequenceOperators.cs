using System.Collections.Generic;

namespace ModelGen.Compiler.Operators;

public static partial class OperatorRegistry
{
    static partial void RegisterSequence(Dictionary<string, Operator> t)
    {
        t[":LSTM"] = new Lstm();
        t[":GRU"] = new Gru();
        t[":RNN"] = new Rnn();
    }
}
