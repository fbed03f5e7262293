//! A run's output as the store keeps it: the tail of what the job wrote, each byte tagged
//! with the stream it came from. Both backends keep pieces in the order written and
//! read them back through [`Output::from_tail`], so that they cut and merge alike.

/// Which of the job's pipes bytes came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// Bytes the job wrote to one stream, one after another.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chunk {
    pub stream: Stream,
    pub bytes: Vec<u8>,
}

/// The output a run has produced, from some offset on.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Output {
    /// Offset of the first byte of `chunks` in everything the run has written; larger
    /// than the offset asked for when the tail no longer holds those bytes.
    pub start: u64,
    /// The bytes from `start` to `end` in the order written. Bytes of one stream
    /// written one after another come as one chunk, and no chunk is empty.
    pub chunks: Vec<Chunk>,
    /// Everything the run has written so far, in bytes: where to continue from.
    pub end: u64,
}

impl Stream {
    /// Its file descriptor in the job, 1 or 2: how both backends tag stored bytes.
    pub fn fd(self) -> u8 {
        match self {
            Stream::Stdout => 1,
            Stream::Stderr => 2,
        }
    }

    pub fn from_fd(fd: u8) -> Option<Stream> {
        match fd {
            1 => Some(Stream::Stdout),
            2 => Some(Stream::Stderr),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

impl Chunk {
    pub fn new(stream: Stream, bytes: impl Into<Vec<u8>>) -> Chunk {
        Chunk {
            stream,
            bytes: bytes.into(),
        }
    }
}

impl Output {
    /// The output read from `from` on, out of the kept `pieces`, which hold the bytes
    /// from `pieces_start` to `end` in the order written.
    pub(crate) fn from_tail(pieces: Vec<Chunk>, pieces_start: u64, end: u64, from: u64) -> Output {
        let kept_from = pieces_start.min(end);
        let start = from.clamp(kept_from, end);
        let mut chunks = Vec::with_capacity(pieces.len());
        for piece in pieces {
            push_merged(&mut chunks, piece);
        }
        let skip = usize::try_from(start - kept_from).unwrap_or(usize::MAX);
        cut_front(&mut chunks, skip);
        Output { start, chunks, end }
    }

    /// Every byte from `start` on, both streams in the order written.
    pub fn bytes(&self) -> Vec<u8> {
        self.chunks
            .iter()
            .flat_map(|c| c.bytes.iter().copied())
            .collect()
    }
}

/// Appends `chunk` to `chunks`, into the last one when it is of the same stream.
pub(crate) fn push_merged(chunks: &mut Vec<Chunk>, chunk: Chunk) {
    if chunk.bytes.is_empty() {
        return;
    }
    match chunks.last_mut() {
        Some(last) if last.stream == chunk.stream => last.bytes.extend_from_slice(&chunk.bytes),
        _ => chunks.push(chunk),
    }
}

/// Drops the first `count` bytes of `chunks`, cutting the first chunk it keeps.
pub(crate) fn cut_front(chunks: &mut Vec<Chunk>, mut count: usize) {
    let whole = chunks
        .iter()
        .take_while(|chunk| {
            let gone = chunk.bytes.len() <= count;
            if gone {
                count -= chunk.bytes.len();
            }
            gone
        })
        .count();
    chunks.drain(..whole);
    if let Some(first) = chunks.first_mut() {
        first.bytes.drain(..count.min(first.bytes.len()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out(bytes: &str) -> Chunk {
        Chunk::new(Stream::Stdout, bytes)
    }

    fn err(bytes: &str) -> Chunk {
        Chunk::new(Stream::Stderr, bytes)
    }

    #[test]
    fn neighbours_of_one_stream_merge_and_empty_pieces_vanish() {
        let pieces = vec![out("ab"), out(""), out("c"), err("d"), err("e"), out("f")];
        let got = Output::from_tail(pieces, 0, 6, 0);
        assert_eq!(got.chunks, [out("abc"), err("de"), out("f")]);
        assert_eq!((got.start, got.end), (0, 6));
        assert_eq!(got.bytes(), b"abcdef");
    }

    #[test]
    fn reading_from_inside_a_piece_cuts_it() {
        let pieces = || vec![out("0123"), err("4567"), out("89")];
        let got = Output::from_tail(pieces(), 10, 20, 16);
        assert_eq!((got.start, got.chunks), (16, vec![err("67"), out("89")]));
        let got = Output::from_tail(pieces(), 10, 20, 14);
        assert_eq!(got.chunks, [err("4567"), out("89")]);
        let got = Output::from_tail(pieces(), 10, 20, 3);
        assert_eq!(
            (got.start, got.chunks.len()),
            (10, 3),
            "from before the tail"
        );
        let got = Output::from_tail(pieces(), 10, 20, 25);
        assert_eq!((got.start, got.chunks), (20, vec![]), "from past the end");
    }

    #[test]
    fn cut_front_drops_whole_chunks_then_cuts_one() {
        let mut chunks = vec![out("ab"), err("cd"), out("ef")];
        cut_front(&mut chunks, 3);
        assert_eq!(chunks, [err("d"), out("ef")]);
        cut_front(&mut chunks, 1);
        assert_eq!(chunks, [out("ef")]);
        cut_front(&mut chunks, 9);
        assert!(chunks.is_empty());
    }
}
