//! Parsed GraphQL documents kept by their text, so the handful of operations an integration
//! sends over and over are parsed once, and validated once.
//!
//! Why: an LMS syncing results sends the same `recordKnowledgeElements` document thousands of
//! times with different variables, and parsing it (a PEG parser that allocates per token) was
//! the largest single cost of a one-element write after the store itself (11% of the server's
//! CPU under `scripts/bench-writes.sh`, profiled with `perf`; the handler also parsed it twice,
//! once here to route mutations and once inside `Schema::execute`).
//!
//! Validating it came next (8% of the server's CPU in the same profile, `check_rules`): the
//! rules walk the document against the schema on every request, although all but one depend
//! on the document alone. That one, `ArgumentsOfCorrectType`, checks the values of the
//! variables, which the executor checks again when it reads the arguments. So a document that
//! passed validation once may skip it (the handler executes it on a schema built with
//! async-graphql's `ValidationMode::Fast`, which keeps the depth and complexity limits), if its
//! variables can only reach the arguments of its one root field ([`KnownDocument`]): a value
//! that does not fit is then refused while that field's arguments are read, before its
//! resolver runs, so nothing is written. The handler then validates it fully to answer with
//! the validator's message (see `graphql::execute`). Such a refusal is told from an error of
//! the resolver by where it points ([`KnownDocument::refused_an_argument`]): async-graphql
//! places an argument's refusal at the argument's value (or nowhere, for a missing one), a
//! resolver's error at its field, so a resolver that fails after writing is never run twice.
//! A variable used deeper (in a nested field, a directive, a fragment) is read after the root
//! resolver ran, perhaps after an append: such documents are validated on every request.
//!
//! Only documents that parsed are kept (a syntax error is answered from a fresh parse), and
//! only short ones: the cache is bounded in entries and in the text it holds, so a client
//! sending endless distinct documents only churns it.
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_graphql::parser::types::{
    Directive, DocumentOperations, ExecutableDocument, Selection, SelectionSet,
};
use async_graphql::{Pos, Positioned};

/// Longest document text kept, in bytes; longer ones are parsed on every request.
const MAX_CACHED_TEXT: usize = 16 * 1024;

/// A parsed document, and whether it may skip validation.
#[derive(Debug)]
pub struct KnownDocument {
    /// The document.
    pub document: ExecutableDocument,
    /// Where the root field starts, when the document is one operation with one root field,
    /// no fragments, variables only in that field's arguments (see the module documentation).
    root_field: Option<Pos>,
    /// It passed validation once.
    validated: AtomicBool,
}

impl KnownDocument {
    fn new(document: ExecutableDocument) -> Self {
        KnownDocument {
            root_field: root_field_taking_all_variables(&document),
            document,
            validated: AtomicBool::new(false),
        }
    }

    /// Whether this document may be executed without validation.
    pub fn skips_validation(&self) -> bool {
        self.root_field.is_some() && self.validated.load(Ordering::Relaxed)
    }

    /// Whether executing this document without validation refused a value for its root
    /// field's arguments, before the resolver ran: no data, and an error of async-graphql's own
    /// (ours all carry a code) on the root field that does not point at the field itself
    /// (a resolver's errors do; a refused argument points at its value, a missing one nowhere).
    pub fn refused_an_argument(&self, response: &async_graphql::Response) -> bool {
        let Some(root) = self.root_field else {
            return false;
        };
        response.data == async_graphql::Value::Null
            && response.errors.iter().any(|e| {
                e.path.len() == 1
                    && e.locations.as_slice() != [root]
                    && e.extensions
                        .as_ref()
                        .is_none_or(|x| x.get("code").is_none())
            })
    }

    /// Records that the document passed validation.
    pub fn passed_validation(&self) {
        if self.root_field.is_some() {
            self.validated.store(true, Ordering::Relaxed);
        }
    }
}

/// Where the root field starts, if the document is one operation with one root field, no
/// fragments, and variables in that field's arguments only.
fn root_field_taking_all_variables(document: &ExecutableDocument) -> Option<Pos> {
    // A named operation comes as a map of one.
    let operation = match &document.operations {
        DocumentOperations::Single(operation) => operation,
        DocumentOperations::Multiple(operations) if operations.len() == 1 => {
            operations.values().next()?
        }
        DocumentOperations::Multiple(_) => return None,
    };
    if !document.fragments.is_empty() || directives_use_variables(&operation.node.directives) {
        return None;
    }
    let [only] = operation.node.selection_set.node.items.as_slice() else {
        return None;
    };
    let Selection::Field(field) = &only.node else {
        return None;
    };
    (!directives_use_variables(&field.node.directives)
        && !selections_use_variables(&field.node.selection_set.node))
    .then_some(field.pos)
}

/// Whether a selection below the root refers to a variable. An argument's value that refers to
/// one has no constant form (the copy is made once per document kept).
fn selections_use_variables(set: &SelectionSet) -> bool {
    set.items.iter().any(|item| match &item.node {
        Selection::Field(field) => {
            field
                .node
                .arguments
                .iter()
                .any(|(_, value)| value.node.clone().into_const().is_none())
                || directives_use_variables(&field.node.directives)
                || selections_use_variables(&field.node.selection_set.node)
        }
        Selection::FragmentSpread(_) => true,
        Selection::InlineFragment(fragment) => {
            directives_use_variables(&fragment.node.directives)
                || selections_use_variables(&fragment.node.selection_set.node)
        }
    })
}

fn directives_use_variables(directives: &[Positioned<Directive>]) -> bool {
    directives.iter().any(|directive| {
        directive
            .node
            .arguments
            .iter()
            .any(|(_, value)| value.node.clone().into_const().is_none())
    })
}

/// Parsed documents by their exact text.
#[derive(Clone)]
pub struct DocumentCache {
    docs: moka::sync::Cache<Arc<str>, Arc<KnownDocument>>,
}

impl DocumentCache {
    /// A cache holding about `text_bytes` of document text (and the documents parsed from it).
    pub fn new(text_bytes: u64) -> Self {
        DocumentCache {
            docs: moka::sync::Cache::builder()
                .max_capacity(text_bytes)
                .weigher(|text: &Arc<str>, _: &Arc<KnownDocument>| {
                    u32::try_from(text.len()).unwrap_or(u32::MAX)
                })
                .build(),
        }
    }

    /// The document `query` parses into, from the cache or parsed now (and kept if short).
    pub fn parse(&self, query: &str) -> Result<Arc<KnownDocument>, async_graphql::parser::Error> {
        if let Some(doc) = self.docs.get(query) {
            return Ok(doc);
        }
        let doc = Arc::new(KnownDocument::new(async_graphql::parser::parse_query(
            query,
        )?));
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
    fn only_documents_whose_variables_stop_at_the_root_field_may_skip_validation() {
        let cache = DocumentCache::default();
        let may = [
            "{ __typename }",
            "mutation($i: RecordKnowledgeElementsInput!) { recordKnowledgeElements(input: $i) { position } }",
            "query($id: ID!) { person(id: $id) { id levels { competence level } } }",
            "query Named($id: ID!, $n: Int) { person(id: $id, first: [$n]) { id levels(first: 3) { level } } }",
        ];
        let may_not = [
            "{ a: __typename b: __typename }",
            "query($n: Int) { persons { edges(first: $n) { cursor } } }",
            "query($n: Int) { persons { edges { node(x: {y: [$n]}) { id } } } }",
            "query($s: Boolean!) { person(id: \"x\") @include(if: $s) { id } }",
            "query($s: Boolean!) { person(id: \"x\") { id @skip(if: $s) } }",
            "query($s: Boolean!) @x(if: $s) { person(id: \"x\") { id } }",
            "query($n: Int) { person(id: \"x\") { ... on Person @include(if: $n) { id } } }",
            "query { person(id: \"x\") { ...f } } fragment f on Person { id }",
            "query A { __typename } query B { __typename }",
        ];
        for text in may {
            let doc = cache.parse(text).unwrap();
            assert!(!doc.skips_validation(), "{text}: not yet validated");
            doc.passed_validation();
            assert!(cache.parse(text).unwrap().skips_validation(), "{text}");
        }
        for text in may_not {
            let doc = cache.parse(text).unwrap();
            doc.passed_validation();
            assert!(!cache.parse(text).unwrap().skips_validation(), "{text}");
        }
    }

    /// What the executor answers when it stopped on the root field `field`, with one error at
    /// `at` and extensions `code`.
    fn stopped(at: Option<Pos>, code: Option<&str>) -> async_graphql::Response {
        let mut error = async_graphql::ServerError::new("refused", at);
        error.path = vec![async_graphql::PathSegment::Field("person".into())];
        if let Some(code) = code {
            let mut extensions = async_graphql::ErrorExtensionValues::default();
            extensions.set("code", code);
            error.extensions = Some(extensions);
        }
        async_graphql::Response::from_errors(vec![error])
    }

    #[test]
    fn a_refused_argument_is_told_from_a_resolver_error_by_where_it_points() {
        let cache = DocumentCache::default();
        let doc = cache
            .parse("query($id: ID!) { person(id: $id) { id } }")
            .unwrap();
        let root = doc.root_field.unwrap();
        let argument = Pos {
            line: root.line,
            column: root.column + 11,
        };
        // async-graphql's own refusals: at the argument's value, or nowhere for a missing one.
        assert!(doc.refused_an_argument(&stopped(Some(argument), None)));
        assert!(doc.refused_an_argument(&stopped(Some(Pos::default()), None)));
        // A resolver's error points at its field, coded or not: never run twice.
        assert!(!doc.refused_an_argument(&stopped(Some(root), None)));
        assert!(!doc.refused_an_argument(&stopped(Some(root), Some("NOT_FOUND"))));
        // Coded errors are ours, wherever they point.
        assert!(!doc.refused_an_argument(&stopped(Some(argument), Some("BAD_USER_INPUT"))));
        // A document that always validates is never re-run.
        let deep = cache
            .parse("query($n: Int) { persons { edges(first: $n) { cursor } } }")
            .unwrap();
        assert!(!deep.refused_an_argument(&stopped(Some(argument), None)));
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
