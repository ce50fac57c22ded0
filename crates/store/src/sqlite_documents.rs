//! SQLite's full-text search over chunks: an FTS5 index (filled by trigger) ranked by bm25.

use async_trait::async_trait;
use brandstream_domain::text::search_form;
use brandstream_domain::OrgId;

use crate::documents::{hit_page, ChunkHit, ChunkQuery, Clause, FullTextSearch};
use crate::sql::Backend;
use crate::{SqliteStore, StoreResult};

/// An FTS5 query matching any of `terms`, each in its search form and quoted (a phrase: the
/// characters of a CJK word must follow each other), so nothing in it is syntax.
fn match_expression(terms: &[String]) -> String {
    terms
        .iter()
        .map(|term| format!("\"{}\"", search_form(term).trim().replace('"', "\"\"")))
        .collect::<Vec<_>>()
        .join(" OR ")
}

#[async_trait]
impl FullTextSearch for SqliteStore {
    async fn search_chunk_text(
        &self,
        org: &OrgId,
        terms: &[String],
        query: &ChunkQuery,
    ) -> StoreResult<(i64, Vec<ChunkHit>)> {
        let mut conn = self.reader().await?;
        let mut clause = Clause::new();
        clause.and_bound(match_expression(terms), |placeholder| {
            format!("chunks_fts MATCH {placeholder}")
        });
        // Headings weigh three times the body: a passage under a heading that names the topic
        // is usually the answer. bm25 is lower for better matches.
        hit_page(
            &mut conn,
            (org, query),
            (
                clause,
                "chunks_fts f JOIN chunks c ON c.seq = f.rowid \
                 JOIN documents d ON d.id = c.document_id",
            ),
            ("-bm25(chunks_fts, 3.0, 1.0)", "score DESC, c.seq"),
            terms,
        )
        .await
    }
}
