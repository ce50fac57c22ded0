//! PostgreSQL's full-text search over chunks: a weighted `tsvector` index ranked by
//! `ts_rank`, ordered so passages holding every word of the query come first.

use async_trait::async_trait;
use brandstream_domain::text::search_form;
use brandstream_domain::OrgId;

use crate::documents::{hit_page, ChunkHit, ChunkQuery, Clause, FullTextSearch};
use crate::sql::Backend;
use crate::{PgStore, StoreResult};

/// The text search configuration the migration creates: Porter stemming, no stop words. Query
/// text goes through `brandstream_search_fold` (accents off Latin letters), as indexed text does.
const SEARCH_CONFIG: &str = "brandstream_search";
/// `ts_rank` weights, in the order D, C, B, A: headings (A) weigh three times the body (B),
/// as `bm25(chunks_fts, 3.0, 1.0)` weighs them in SQLite. A passage under a heading that names
/// the topic is usually the answer.
const RANK_WEIGHTS: &str = "'{0, 0, 0.33333334, 1}'";
/// `ts_rank` normalisation 1 divides by the logarithm of the chunk's length, so a long chunk
/// does not win by size alone (bm25 normalises by length too).
const RANK_NORMALISATION: i32 = 1;
/// A `to_tsquery` expression matching any of `terms`, or `None` when no term has a word.
///
/// SQLite quotes each term as an FTS5 phrase and ORs them: a term's words (runs of letters and
/// digits) must appear in order. Here the same words are joined with `<->` (followed by) and
/// the phrases with `|`. Only letters and digits reach the expression, so nothing in a term is
/// query syntax; the expression is bound as a parameter, never spliced into SQL.
fn match_expression(terms: &[String]) -> Option<String> {
    let phrases: Vec<String> = terms
        .iter()
        .filter_map(|term| {
            let term = search_form(term);
            let words: Vec<&str> = term
                .split(|character: char| !character.is_alphanumeric())
                .filter(|word| !word.is_empty())
                .collect();
            match words.as_slice() {
                [] => None,
                [word] => Some((*word).to_owned()),
                _ => Some(format!("({})", words.join(" <-> "))),
            }
        })
        .collect();
    (!phrases.is_empty()).then(|| phrases.join(" | "))
}

#[async_trait]
impl FullTextSearch for PgStore {
    async fn search_chunk_text(
        &self,
        org: &OrgId,
        terms: &[String],
        query: &ChunkQuery,
    ) -> StoreResult<(i64, Vec<ChunkHit>)> {
        let Some(expression) = match_expression(terms) else {
            return Ok((0, Vec::new()));
        };
        let mut conn = self.reader().await?;
        // `ts_rank` has no inverse document frequency: a passage with every word of the query
        // would lose to one repeating the commonest word. Passages holding all the query's
        // words (and phrases) come first; `ts_rank` orders within each group (bm25 in SQLite
        // gets close to this by weighting rare words).
        let every = expression.replace(" | ", " & ");
        let mut clause = Clause::new();
        let search = clause.bind(expression);
        let every = clause.bind(every);
        clause.and("c.search @@ q");
        let source = format!(
            "chunks c JOIN documents d ON d.id = c.document_id \
             CROSS JOIN to_tsquery('{SEARCH_CONFIG}', brandstream_search_fold({search})) AS q \
             CROSS JOIN to_tsquery('{SEARCH_CONFIG}', brandstream_search_fold({every})) AS qa"
        );
        let score = format!(
            "CAST(ts_rank({RANK_WEIGHTS}, c.search, q, {RANK_NORMALISATION}) AS DOUBLE PRECISION)"
        );
        hit_page(
            &mut conn,
            (org, query),
            (clause, &source),
            (&score, &format!("c.search @@ qa DESC, {score} DESC, c.seq")),
            terms,
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The store behaviours are in the contract suite (`crate::contract`), run on both backends.
    #[test]
    fn match_expressions_keep_only_words() {
        let terms = |list: &[&str]| {
            list.iter()
                .map(|term| (*term).to_owned())
                .collect::<Vec<_>>()
        };
        assert_eq!(match_expression(&terms(&[])), None);
        assert_eq!(match_expression(&terms(&["--", "'\"&|!"])), None);
        assert_eq!(
            match_expression(&terms(&["logo", "e-mail", "it's:*", "café"])).as_deref(),
            Some("logo | (e <-> mail) | (it <-> s) | café")
        );
        assert_eq!(
            match_expression(&terms(&["\"); DROP TABLE chunks; --"])).as_deref(),
            Some("(DROP <-> TABLE <-> chunks)")
        );
    }
}
