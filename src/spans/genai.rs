//! The GenAI semantic conventions' names for what strait knows of a call.

use crate::providers::ProviderKind;

/// `gen_ai.provider.name` as the conventions spell it.
pub(super) fn provider_name(kind: ProviderKind) -> &'static str {
    match kind {
        ProviderKind::OpenAi => "openai",
        ProviderKind::Anthropic => "anthropic",
        ProviderKind::Azure => "azure.ai.openai",
        ProviderKind::Gemini => "gcp.gemini",
        ProviderKind::Vertex => "gcp.vertex_ai",
    }
}

/// `gen_ai.operation.name` from the provider-native path, when it is one
/// the conventions name.
pub(super) fn operation(native_path: &str) -> Option<&'static str> {
    let p = native_path;
    if p.ends_with("/chat/completions") || p.ends_with("/responses") || p.ends_with("/messages") {
        Some("chat")
    } else if p.ends_with("/embeddings")
        || p.ends_with(":embedContent")
        || p.ends_with(":batchEmbedContents")
        || p.ends_with(":predict") && p.contains("embedding")
    {
        Some("embeddings")
    } else if p.ends_with(":generateContent") || p.ends_with(":streamGenerateContent") {
        Some("generate_content")
    } else if p.ends_with("/completions") {
        Some("text_completion")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::operation;

    #[test]
    fn operations_follow_the_genai_conventions() {
        for (path, op) in [
            ("/v1/chat/completions", Some("chat")),
            ("/openai/deployments/d/chat/completions", Some("chat")),
            ("/v1/messages", Some("chat")),
            ("/v1/responses", Some("chat")),
            ("/v1/embeddings", Some("embeddings")),
            (
                "/v1beta/models/gemini-2.0-flash:generateContent",
                Some("generate_content"),
            ),
            (
                "/v1beta/models/g:streamGenerateContent",
                Some("generate_content"),
            ),
            (
                "/v1beta/models/text-embedding-004:embedContent",
                Some("embeddings"),
            ),
            ("/v1/completions", Some("text_completion")),
            ("/v1/models", None),
            ("/v1/messages/count_tokens", None),
        ] {
            assert_eq!(operation(path), op, "{path}");
        }
    }
}
