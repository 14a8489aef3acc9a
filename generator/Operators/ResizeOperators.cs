using System.Collections.Generic;

namespace ModelGen.Compiler.Operators;

public static partial class OperatorRegistry
{
    static partial void RegisterResize(Dictionary<string, Operator> t)
    {
        t[":Resize"] = new Resize(upsample: false);
        t[":Upsample"] = new Resize(upsample: true);
        t[":ConvTranspose"] = new ConvTranspose();
        t[":MaxUnpool"] = new MaxUnpool();
    }
}
