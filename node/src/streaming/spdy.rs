//! SPDY/3.1, the server side, as the Kubernetes streaming protocols use it (client-go's
//! spdystream): the client opens one stream per channel (`SYN_STREAM`, headers naming its
//! `streamType`), the server answers each with a `SYN_REPLY`, data flows in data frames and a
//! frame with the FIN flag half-closes a stream. Header blocks are compressed with one zlib
//! stream per direction, primed with the protocol's dictionary. Flow control (`WINDOW_UPDATE`)
//! is ignored, as spdystream ignores it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

const VERSION: u16 = 3;
const SYN_STREAM: u16 = 1;
const SYN_REPLY: u16 = 2;
const RST_STREAM: u16 = 3;
const PING: u16 = 6;
const GOAWAY: u16 = 7;
const FLAG_FIN: u8 = 0x01;
/// The largest payload of one data frame this side writes.
const DATA_CHUNK: usize = 32 * 1024;
/// The largest frame this side reads (the protocol allows 16 MiB).
const MAX_FRAME: usize = 1 << 24;
/// How many unread data frames one stream may hold before the connection's reader waits.
const STREAM_BUFFER: usize = 64;

/// The zlib dictionary SPDY/3 primes its header compression with: 65 length-prefixed header
/// names and values, then a run of common status lines, dates and media types.
fn dictionary() -> Vec<u8> {
    const WORDS: [&str; 65] = [
        "options",
        "head",
        "post",
        "put",
        "delete",
        "trace",
        "accept",
        "accept-charset",
        "accept-encoding",
        "accept-language",
        "accept-ranges",
        "age",
        "allow",
        "authorization",
        "cache-control",
        "connection",
        "content-base",
        "content-encoding",
        "content-language",
        "content-length",
        "content-location",
        "content-md5",
        "content-range",
        "content-type",
        "date",
        "etag",
        "expect",
        "expires",
        "from",
        "host",
        "if-match",
        "if-modified-since",
        "if-none-match",
        "if-range",
        "if-unmodified-since",
        "last-modified",
        "location",
        "max-forwards",
        "pragma",
        "proxy-authenticate",
        "proxy-authorization",
        "range",
        "referer",
        "retry-after",
        "server",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "user-agent",
        "vary",
        "via",
        "warning",
        "www-authenticate",
        "method",
        "get",
        "status",
        "200 OK",
        "version",
        "HTTP/1.1",
        "url",
        "public",
        "set-cookie",
        "keep-alive",
        "origin",
    ];
    const TAIL: &str = concat!(
        "100101201202205206300302303304305306307402405406407408409410411412413414415416417",
        "502504505203 Non-Authoritative Information204 No Content301 Moved Permanently",
        "400 Bad Request401 Unauthorized403 Forbidden404 Not Found500 Internal Server Error",
        "501 Not Implemented503 Service UnavailableJan Feb Mar Apr May Jun Jul Aug Sept Oct ",
        "Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMTchunked,text/html,image/png,",
        "image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,text/javascript,",
        "publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0."
    );
    let mut out = Vec::with_capacity(1423);
    for w in WORDS {
        out.extend_from_slice(&(w.len() as u32).to_be_bytes());
        out.extend_from_slice(w.as_bytes());
    }
    out.extend_from_slice(TAIL.as_bytes());
    out
}

/// What went wrong on a connection.
#[derive(Debug, thiserror::Error)]
pub enum SpdyError {
    #[error("spdy: {0}")]
    Io(#[from] std::io::Error),
    #[error("spdy: {0}")]
    Protocol(String),
}

fn protocol(m: impl Into<String>) -> SpdyError {
    SpdyError::Protocol(m.into())
}

/// Encodes and decodes header blocks: name/value pairs, 32-bit lengths, values joined by NUL,
/// inside each direction's zlib stream.
struct HeaderCodec {
    inflate: Decompress,
    deflate: Compress,
    dictionary: Vec<u8>,
}

impl HeaderCodec {
    fn new() -> Result<HeaderCodec, SpdyError> {
        let dictionary = dictionary();
        let mut deflate = Compress::new(Compression::default(), true);
        deflate
            .set_dictionary(&dictionary)
            .map_err(|e| protocol(format!("header compressor: {e}")))?;
        Ok(HeaderCodec {
            inflate: Decompress::new(true),
            deflate,
            dictionary,
        })
    }

    fn decode(&mut self, block: &[u8]) -> Result<Vec<(String, String)>, SpdyError> {
        let mut plain: Vec<u8> = Vec::with_capacity(block.len() * 4 + 64);
        let mut input = block;
        loop {
            if plain.capacity() - plain.len() < 256 {
                plain.reserve(plain.capacity().max(1024));
            }
            let before = self.inflate.total_in();
            match self
                .inflate
                .decompress_vec(input, &mut plain, FlushDecompress::Sync)
            {
                Ok(status) => {
                    let used = (self.inflate.total_in() - before) as usize;
                    input = &input[used..];
                    if status == Status::StreamEnd
                        || (input.is_empty() && plain.capacity() > plain.len())
                    {
                        break;
                    }
                }
                Err(e) if e.needs_dictionary().is_some() => {
                    let used = (self.inflate.total_in() - before) as usize;
                    input = &input[used..];
                    self.inflate
                        .set_dictionary(&self.dictionary)
                        .map_err(|e| protocol(format!("header dictionary: {e}")))?;
                }
                Err(e) => return Err(protocol(format!("header block: {e}"))),
            }
        }
        parse_header_block(&plain)
    }

    fn encode(&mut self, headers: &[(&str, &str)]) -> Result<Vec<u8>, SpdyError> {
        let mut plain = Vec::new();
        plain.extend_from_slice(&(headers.len() as u32).to_be_bytes());
        for (name, value) in headers {
            let name = name.to_ascii_lowercase();
            plain.extend_from_slice(&(name.len() as u32).to_be_bytes());
            plain.extend_from_slice(name.as_bytes());
            plain.extend_from_slice(&(value.len() as u32).to_be_bytes());
            plain.extend_from_slice(value.as_bytes());
        }
        let mut out: Vec<u8> = Vec::with_capacity(plain.len() + 64);
        let mut input = plain.as_slice();
        loop {
            let before = self.deflate.total_in();
            self.deflate
                .compress_vec(input, &mut out, FlushCompress::Sync)
                .map_err(|e| protocol(format!("header compressor: {e}")))?;
            input = &input[(self.deflate.total_in() - before) as usize..];
            // A sync flush is complete once it did not fill the buffer.
            if input.is_empty() && out.len() < out.capacity() {
                return Ok(out);
            }
            out.reserve(out.capacity().max(64));
        }
    }
}

fn parse_header_block(plain: &[u8]) -> Result<Vec<(String, String)>, SpdyError> {
    let mut at = 0usize;
    let mut next = |n: usize| -> Result<&[u8], SpdyError> {
        let w = plain
            .get(at..at + n)
            .ok_or_else(|| protocol("truncated header block"))?;
        at += n;
        Ok(w)
    };
    let count = be32(next(4)?);
    let mut headers = Vec::new();
    for _ in 0..count {
        let n = be32(next(4)?) as usize;
        let name = String::from_utf8_lossy(next(n)?).to_ascii_lowercase();
        let n = be32(next(4)?) as usize;
        let value = String::from_utf8_lossy(next(n)?).into_owned();
        for v in value.split('\0') {
            headers.push((name.clone(), v.to_string()));
        }
    }
    Ok(headers)
}

fn be32(b: &[u8]) -> u32 {
    b.try_into().map(u32::from_be_bytes).unwrap_or(0)
}

/// The writing half of a connection, shared by its streams; frames are written whole.
pub struct SpdyWriter {
    out: tokio::sync::Mutex<(Box<dyn AsyncWrite + Send + Unpin>, HeaderCodec)>,
}

impl SpdyWriter {
    async fn control(&self, kind: u16, flags: u8, body: &[u8]) -> Result<(), SpdyError> {
        let mut out = self.out.lock().await;
        let mut frame = Vec::with_capacity(8 + body.len());
        frame.extend_from_slice(&(0x8000 | VERSION).to_be_bytes());
        frame.extend_from_slice(&kind.to_be_bytes());
        frame.extend_from_slice(&((u32::from(flags) << 24) | body.len() as u32).to_be_bytes());
        frame.extend_from_slice(body);
        out.0.write_all(&frame).await?;
        out.0.flush().await?;
        Ok(())
    }

    /// Answers the stream `id` (`SYN_REPLY`, no headers); `fin` rejects it at once.
    pub async fn reply(&self, id: u32, fin: bool) -> Result<(), SpdyError> {
        let block = self.out.lock().await.1.encode(&[])?;
        let mut body = id.to_be_bytes().to_vec();
        body.extend_from_slice(&block);
        self.control(SYN_REPLY, if fin { FLAG_FIN } else { 0 }, &body)
            .await
    }

    /// Writes `data` on stream `id`, in frames of at most 32 KiB.
    pub async fn data(&self, id: u32, data: &[u8], fin: bool) -> Result<(), SpdyError> {
        let mut out = self.out.lock().await;
        let mut chunks: Vec<&[u8]> = data.chunks(DATA_CHUNK).collect();
        if chunks.is_empty() {
            chunks.push(&[]);
        }
        let last = chunks.len() - 1;
        for (i, chunk) in chunks.into_iter().enumerate() {
            let flags = if fin && i == last { FLAG_FIN } else { 0 };
            let mut head = [0u8; 8];
            head[..4].copy_from_slice(&(id & 0x7fff_ffff).to_be_bytes());
            head[4..]
                .copy_from_slice(&((u32::from(flags) << 24) | chunk.len() as u32).to_be_bytes());
            out.0.write_all(&head).await?;
            out.0.write_all(chunk).await?;
        }
        out.0.flush().await?;
        Ok(())
    }

    /// Ends the connection: `GOAWAY`, then the transport is shut down.
    pub async fn close(&self) {
        let body = [0u8; 8];
        let _ = self.control(GOAWAY, 0, &body).await;
        let _ = self.out.lock().await.0.shutdown().await;
    }
}

/// One stream the client opened.
pub struct SpdyStream {
    pub id: u32,
    pub headers: Vec<(String, String)>,
    /// Its data; closed when the client half-closed or reset it.
    pub data: mpsc::Receiver<Bytes>,
    pub writer: Arc<SpdyWriter>,
}

impl SpdyStream {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub async fn write(&self, data: &[u8]) -> Result<(), SpdyError> {
        self.writer.data(self.id, data, false).await
    }

    /// Half-closes the stream from this side.
    pub async fn finish(&self) -> Result<(), SpdyError> {
        self.writer.data(self.id, &[], true).await
    }
}

/// Serves a connection: returns its writer and the streams the client opens, each already
/// answered with a `SYN_REPLY`. The reader runs until the client goes away.
pub fn serve<IO>(io: IO) -> Result<(Arc<SpdyWriter>, mpsc::Receiver<SpdyStream>), SpdyError>
where
    IO: AsyncRead + AsyncWrite + Send + 'static,
{
    let (mut rd, wr) = tokio::io::split(io);
    let writer = Arc::new(SpdyWriter {
        out: tokio::sync::Mutex::new((Box::new(wr), HeaderCodec::new()?)),
    });
    let (streams_tx, streams) = mpsc::channel(16);
    let w = writer.clone();
    tokio::spawn(async move {
        if let Err(e) = read_loop(&mut rd, &w, streams_tx).await {
            tracing::debug!(error = %e, "spdy connection ended");
        }
    });
    Ok((writer, streams))
}

async fn read_loop<R: AsyncRead + Unpin>(
    rd: &mut R,
    writer: &Arc<SpdyWriter>,
    streams_tx: mpsc::Sender<SpdyStream>,
) -> Result<(), SpdyError> {
    let mut inflate = HeaderCodec::new()?;
    let open: Mutex<HashMap<u32, mpsc::Sender<Bytes>>> = Mutex::new(HashMap::new());
    let mut head = [0u8; 8];
    loop {
        match rd.read_exact(&mut head).await {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(e.into()),
        }
        let first = u32::from_be_bytes([head[0], head[1], head[2], head[3]]);
        let flags = head[4];
        let len = u32::from_be_bytes([0, head[5], head[6], head[7]]) as usize;
        if len > MAX_FRAME {
            return Err(protocol(format!("frame of {len} bytes")));
        }
        let mut body = vec![0u8; len];
        rd.read_exact(&mut body).await?;
        let fin = flags & FLAG_FIN != 0;
        if first & 0x8000_0000 == 0 {
            let id = first & 0x7fff_ffff;
            let tx = open
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get(&id)
                .cloned();
            if let Some(tx) = tx {
                if !body.is_empty() {
                    // A stream nobody reads any more just drops its data.
                    let _ = tx.send(Bytes::from(body)).await;
                }
            }
            if fin {
                open.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .remove(&id);
            }
            continue;
        }
        let kind = (first & 0xffff) as u16;
        let word = |at: usize| -> Result<u32, SpdyError> {
            body.get(at..at + 4)
                .and_then(|b| b.try_into().ok())
                .map(u32::from_be_bytes)
                .ok_or_else(|| protocol(format!("short control frame {kind}")))
        };
        match kind {
            SYN_STREAM => {
                let id = word(0)? & 0x7fff_ffff;
                let headers = inflate.decode(body.get(10..).unwrap_or_default())?;
                let (tx, rx) = mpsc::channel(STREAM_BUFFER);
                if !fin {
                    open.lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .insert(id, tx);
                }
                writer.reply(id, false).await?;
                let stream = SpdyStream {
                    id,
                    headers,
                    data: rx,
                    writer: writer.clone(),
                };
                if streams_tx.send(stream).await.is_err() {
                    // Nobody takes streams any more: the session is over.
                    return Ok(());
                }
            }
            RST_STREAM => {
                let id = word(0)? & 0x7fff_ffff;
                open.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .remove(&id);
            }
            PING => writer.control(PING, 0, &body).await?,
            GOAWAY => return Ok(()),
            // SETTINGS, HEADERS, WINDOW_UPDATE and unknown frames change nothing here.
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dictionary_is_the_protocols() {
        let d = dictionary();
        assert_eq!(d.len(), 1423);
        assert_eq!(&d[..11], b"\0\0\0\x07options");
        assert!(d.ends_with(b"enq=0."));
    }

    #[test]
    fn header_blocks_round_trip_through_the_primed_zlib_streams() {
        let mut client = HeaderCodec::new().unwrap();
        let mut server = HeaderCodec::new().unwrap();
        for _ in 0..3 {
            let block = client
                .encode(&[("streamType", "stdout"), ("port", "80")])
                .unwrap();
            let headers = server.decode(&block).unwrap();
            assert_eq!(
                headers,
                vec![
                    ("streamtype".to_string(), "stdout".to_string()),
                    ("port".to_string(), "80".to_string())
                ]
            );
        }
        assert!(server.decode(b"\x00garbage").is_err());
    }

    #[tokio::test]
    async fn streams_are_answered_and_carry_data_until_fin() {
        let (client, server) = tokio::io::duplex(1 << 16);
        let (_writer, mut streams) = serve(server).unwrap();
        let (mut crd, mut cwr) = tokio::io::split(client);
        let mut codec = HeaderCodec::new().unwrap();
        let block = codec.encode(&[("streamtype", "stdin")]).unwrap();
        let mut body = 1u32.to_be_bytes().to_vec();
        body.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
        body.extend_from_slice(&block);
        let mut frame = vec![0x80, 3, 0, 1];
        frame.extend_from_slice(&(body.len() as u32).to_be_bytes());
        frame.extend_from_slice(&body);
        frame.extend_from_slice(&[0, 0, 0, 1, FLAG_FIN, 0, 0, 2, b'h', b'i']);
        cwr.write_all(&frame).await.unwrap();
        let mut s = streams.recv().await.unwrap();
        assert_eq!(s.header("streamtype"), Some("stdin"));
        assert_eq!(s.data.recv().await.unwrap(), Bytes::from_static(b"hi"));
        assert!(s.data.recv().await.is_none(), "FIN ends the stream's data");
        let mut reply = [0u8; 8];
        crd.read_exact(&mut reply).await.unwrap();
        assert_eq!(
            &reply[..4],
            &[0x80, 3, 0, 2],
            "a SYN_REPLY answers the stream"
        );
        let len = u32::from_be_bytes([0, reply[5], reply[6], reply[7]]) as usize;
        let mut rest = vec![0u8; len];
        crd.read_exact(&mut rest).await.unwrap();
        assert_eq!(&rest[..4], &1u32.to_be_bytes());
        assert!(codec_decodes_empty(&rest[4..]));
        s.write(b"out").await.unwrap();
        let mut data = [0u8; 11];
        crd.read_exact(&mut data).await.unwrap();
        assert_eq!(&data, &[0, 0, 0, 1, 0, 0, 0, 3, b'o', b'u', b't']);
    }

    fn codec_decodes_empty(block: &[u8]) -> bool {
        HeaderCodec::new()
            .unwrap()
            .decode(block)
            .is_ok_and(|h| h.is_empty())
    }
}
