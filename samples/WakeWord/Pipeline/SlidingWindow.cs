#nullable enable
using System;

namespace WakeWord;

/// <summary>
/// A fixed-capacity ring of floats whose most recent <c>n</c> elements are always one contiguous span: every element
/// is stored twice (at i and i + capacity), so a window never wraps. Preallocated; pushing and reading allocate nothing.
/// </summary>
public sealed class SlidingWindow
{
    readonly float[] _buf;
    readonly int _cap;
    int _head; // next write position in [0, cap)

    public SlidingWindow(int capacity, float initialValue = 0f)
    {
        if (capacity <= 0) throw new ArgumentOutOfRangeException(nameof(capacity));
        _cap = capacity;
        _buf = new float[2 * capacity];
        Fill(initialValue);
    }

    public int Capacity => _cap;

    /// <summary>Sets every element (the whole history) to <paramref name="value"/>.</summary>
    public void Fill(float value)
    {
        _buf.AsSpan().Fill(value);
        _head = 0;
    }

    /// <summary>Appends <paramref name="data"/>; the oldest elements fall out.</summary>
    public void Push(ReadOnlySpan<float> data)
    {
        if (data.Length > _cap) data = data.Slice(data.Length - _cap);
        while (data.Length > 0)
        {
            int n = Math.Min(data.Length, _cap - _head);
            var part = data.Slice(0, n);
            part.CopyTo(_buf.AsSpan(_head, n));
            part.CopyTo(_buf.AsSpan(_head + _cap, n));
            _head += n;
            if (_head == _cap) _head = 0;
            data = data.Slice(n);
        }
    }

    /// <summary>The most recent <paramref name="count"/> elements, oldest first, as one contiguous span.</summary>
    public ReadOnlySpan<float> Latest(int count)
    {
        if ((uint)count > (uint)_cap) throw new ArgumentOutOfRangeException(nameof(count));
        int start = _head - count;
        if (start < 0) start += _cap;
        return new ReadOnlySpan<float>(_buf, start, count);
    }
}
