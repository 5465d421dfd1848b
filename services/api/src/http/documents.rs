//! Parsed GraphQL documents kept by their text, so the handful of operations an integration
//! sends over and over are parsed once.
//!
//! Why: an LMS syncing results sends the same `recordKnowledgeElements` document thousands of
//! times with different variables, and parsing it (a PEG parser that allocates per token) was
//! the largest single cost of a one-element write after the store itself (11% of the server's
//! CPU under `scripts/bench-writes.sh`, profiled with `perf`; the handler also parsed it twice,
//! once here to route mutations and once inside `Schema::execute`). Validation still runs on
//! every request: it depends on the schema and the variables' types only through the document,
//! but async-graphql offers no hook to skip it, and it is half the parser's cost.
//!
//! Only documents that parsed are kept (a syntax error is answered from a fresh parse), and
//! only short ones: the cache is bounded in entries and in the text it holds, so a client
//! sending endless distinct documents only churns it.
use std::sync::Arc;

use async_graphql::parser::types::ExecutableDocument;

/// Longest document text kept, in bytes; longer ones are parsed on every request.
const MAX_CACHED_TEXT: usize = 16 * 1024;

/// Parsed documents by their exact text.
#[derive(Clone)]
pub struct DocumentCache {
    docs: moka::sync::Cache<Arc<str>, Arc<ExecutableDocument>>,
}

impl DocumentCache {
    /// A cache holding about `text_bytes` of document text (and the documents parsed from it).
    pub fn new(text_bytes: u64) -> Self {
        DocumentCache {
            docs: moka::sync::Cache::builder()
                .max_capacity(text_bytes)
                .weigher(|text: &Arc<str>, _: &Arc<ExecutableDocument>| {
                    u32::try_from(text.len()).unwrap_or(u32::MAX)
                })
                .build(),
        }
    }

    /// The document `query` parses into, from the cache or parsed now (and kept if short).
    pub fn parse(
        &self,
        query: &str,
    ) -> Result<Arc<ExecutableDocument>, async_graphql::parser::Error> {
        if let Some(doc) = self.docs.get(query) {
            return Ok(doc);
        }
        let doc = Arc::new(async_graphql::parser::parse_query(query)?);
        if query.len() <= MAX_CACHED_TEXT {
            self.docs.insert(Arc::from(query), doc.clone());
        }
        Ok(doc)
    }

    /// Documents kept.
    pub fn len(&self) -> u64 {
        self.docs.run_pending_tasks();
        self.docs.entry_count()
    }

    /// Whether nothing is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Default for DocumentCache {
    /// 4 MiB of text: thousands of distinct operations, far more than integrations send.
    fn default() -> Self {
        DocumentCache::new(4 * 1024 * 1024)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_document_is_parsed_once_and_shared() {
        let cache = DocumentCache::default();
        let a = cache.parse("{ __typename }").unwrap();
        let b = cache.parse("{ __typename }").unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn syntax_errors_are_not_kept() {
        let cache = DocumentCache::default();
        assert!(cache.parse("{ person(").is_err());
        assert!(cache.parse("{ person(").is_err());
        assert!(cache.is_empty());
    }

    #[test]
    fn long_documents_are_parsed_but_not_kept() {
        let cache = DocumentCache::default();
        let long = format!("{{ __typename {} }}", "__typename ".repeat(2_000));
        assert!(long.len() > MAX_CACHED_TEXT);
        let a = cache.parse(&long).unwrap();
        let b = cache.parse(&long).unwrap();
        assert!(!Arc::ptr_eq(&a, &b));
        assert!(cache.is_empty());
    }

    #[test]
    fn the_cache_is_bounded_by_the_text_it_holds() {
        let cache = DocumentCache::new(10 * 1024);
        for i in 0..1_000 {
            cache.parse(&format!("{{ a{i}: __typename }}")).unwrap();
        }
        // Each text is about 20 bytes: 10 KiB holds about 500 of them, never all 1,000.
        assert!(cache.len() < 1_000, "{} kept", cache.len());
    }
}
