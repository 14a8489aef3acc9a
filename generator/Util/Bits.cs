namespace ModelGen.Compiler;

static class Bits
{
    public static unsafe int Of(float f) => *(int*)&f;
    public static unsafe float Float(int i) => *(float*)&i;
}
