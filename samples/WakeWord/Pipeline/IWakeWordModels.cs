#nullable enable
using System;

namespace WakeWord;

/// <summary>
/// The three models of openWakeWord's pipeline, with the fixed shapes the streaming detector uses.
/// Implemented by <c>GeneratedModels</c> (ModelGen-generated C#) in the sample, and by ONNX Runtime in the tests.
/// Implementations must not allocate per call (the detector calls them once per 80 ms chunk).
/// </summary>
public interface IWakeWordModels
{
    /// <summary>melspectrogram.onnx: <paramref name="audio"/> is 1760 samples (1280 new + 480 context) as float in
    /// int16 scale; writes 8 frames x 32 mel bins (row-major), raw model output (before openWakeWord's x/10+2).</summary>
    void Melspectrogram(ReadOnlySpan<float> audio, Span<float> mel);

    /// <summary>embedding_model.onnx: <paramref name="mel"/> is 76 frames x 32 bins (transformed); writes 96 floats.</summary>
    void Embed(ReadOnlySpan<float> mel, Span<float> embedding);

    /// <summary>The wake-word model (hey_jarvis_v0.1.onnx): 16 embeddings x 96 in, score in [0, 1] out.</summary>
    float Score(ReadOnlySpan<float> embeddings);
}
