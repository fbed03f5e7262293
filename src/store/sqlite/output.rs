//! Runs' output: chunks tagged with their stream (`output_chunks`, keyed by the offset of
//! their first byte) and the bytes each run wrote in all (`output_totals`). Only the
//! tail is kept: an append deletes the chunks wholly before it and cuts the one across.

use rusqlite::{Connection, OptionalExtension, Transaction, params};

use crate::store::{Chunk, Output, Result, StoreError, Stream};

/// Appends `chunks` after what run `id` wrote so far, keeping its last `tail_bytes`.
pub(super) fn append(
    tx: &Transaction,
    id: &str,
    chunks: &[Chunk],
    tail_bytes: usize,
) -> Result<()> {
    let mut end = total(tx, id)?;
    let mut insert = tx.prepare_cached(
        "INSERT INTO output_chunks (run_id, start, stream, bytes) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for chunk in chunks.iter().filter(|chunk| !chunk.bytes.is_empty()) {
        insert.execute(params![id, end, chunk.stream.fd(), chunk.bytes])?;
        end += chunk.bytes.len() as i64;
    }
    tx.prepare_cached(
        "INSERT INTO output_totals (run_id, total) VALUES (?1, ?2) \
         ON CONFLICT (run_id) DO UPDATE SET total = excluded.total",
    )?
    .execute(params![id, end])?;
    let cut = end - i64::try_from(tail_bytes).unwrap_or(i64::MAX);
    if cut > 0 {
        // `start < cut` first, so that both statements read only the run's oldest rows.
        tx.prepare_cached(
            "DELETE FROM output_chunks \
             WHERE run_id = ?1 AND start < ?2 AND start + length(bytes) <= ?2",
        )?
        .execute(params![id, cut])?;
        // SET reads the old row: `start` in substr is the chunk's offset before the cut.
        tx.prepare_cached(
            "UPDATE output_chunks SET bytes = substr(bytes, ?2 - start + 1), start = ?2 \
             WHERE run_id = ?1 AND start < ?2",
        )?
        .execute(params![id, cut])?;
    }
    Ok(())
}

/// Run `id`'s output from offset `from` on. The caller reads in one transaction, so that
/// the total and the chunks agree.
pub(super) fn read(conn: &Connection, id: &str, from: u64) -> Result<Output> {
    let end = total(conn, id)? as u64;
    if from >= end {
        // Nothing new: the usual answer to `logs --follow`, without reading a chunk.
        return Ok(Output {
            start: end,
            chunks: Vec::new(),
            end,
        });
    }
    // From the chunk that holds byte `from` (or the first one kept) on.
    let mut rows = conn.prepare_cached(
        "SELECT start, stream, bytes FROM output_chunks WHERE run_id = ?1 AND start >= \
         coalesce((SELECT max(start) FROM output_chunks WHERE run_id = ?1 AND start <= ?2), 0) \
         ORDER BY start",
    )?;
    let mut pieces_start = None;
    let mut pieces = Vec::new();
    let mut rows = rows.query(params![id, from as i64])?;
    while let Some(row) = rows.next()? {
        let start: i64 = row.get(0)?;
        let fd: u8 = row.get(1)?;
        let stream = Stream::from_fd(fd)
            .ok_or_else(|| StoreError::Corrupt(format!("run {id} has output of stream {fd}")))?;
        pieces_start.get_or_insert(start as u64);
        pieces.push(Chunk::new(stream, row.get::<_, Vec<u8>>(2)?));
    }
    Ok(Output::from_tail(
        pieces,
        pieces_start.unwrap_or(end),
        end,
        from,
    ))
}

/// Forgets run `id`'s output.
pub(super) fn delete(tx: &Transaction, id: &str) -> Result<()> {
    tx.prepare_cached("DELETE FROM output_chunks WHERE run_id = ?1")?
        .execute([id])?;
    tx.prepare_cached("DELETE FROM output_totals WHERE run_id = ?1")?
        .execute([id])?;
    Ok(())
}

/// The bytes run `id` wrote in all.
fn total(conn: &Connection, id: &str) -> Result<i64> {
    let total = conn
        .prepare_cached("SELECT total FROM output_totals WHERE run_id = ?1")?
        .query_row([id], |row| row.get(0))
        .optional()?;
    Ok(total.unwrap_or(0))
}
