// Language-feature polyfills for netstandard2.0 (init-only setters).
namespace System.Runtime.CompilerServices
{
    internal static class IsExternalInit { }
}
