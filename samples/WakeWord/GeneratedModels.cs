using System;

namespace WakeWord;

/// <summary>The pipeline's models as ModelGen-generated C# (classes generated at build time from the OnnxModel items).</summary>
public sealed class GeneratedModels : IWakeWordModels
{
    readonly float[] _score = new float[1];

    public void Melspectrogram(ReadOnlySpan<float> audio, Span<float> mel) => global::WakeWord.Melspectrogram.Predict(audio, mel);

    public void Embed(ReadOnlySpan<float> mel, Span<float> embedding) => EmbeddingModel.Predict(mel, embedding);

    public float Score(ReadOnlySpan<float> embeddings)
    {
        HeyJarvis.Predict(embeddings, _score);
        return _score[0];
    }
}
