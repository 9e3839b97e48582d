/**
 * A streaming CSV reader (RFC 4180): fields separated by commas, records by LF, CRLF or a lone CR; a field in
 * double quotes may hold commas, line breaks and doubled quotes (`""` for one `"`). Chunks go in as they are
 * read, records come out one at a time with the line they start on, and nothing but the record being read is
 * kept, so a file of any size streams in constant memory.
 *
 * Hand-written rather than csv-parse: on a 1M-row, 72 MB log csv-parse 7 alone took 2.9 s (3.5 s with the
 * line numbers a malformed-row report needs), this 0.5 s, and the grammar is small enough to test in full,
 * every chunk boundary included (test/unit/offline-send-time.test.ts). Lenient where RFC 4180 is silent on recovery: a quote
 * inside an unquoted field, or text after a closing quote, is kept as text; blank lines are skipped; a UTF-8
 * byte-order mark at the start is dropped. A quoted field still open at the end of the input is reported.
 */

export interface CsvSink {
  /** One record: its fields, and the 1-based line of the input it starts on. */
  record(fields: string[], line: number): void;
  /** A record that cannot be read (a quoted field never closed), with the line it starts on. */
  malformed(line: number, reason: string): void;
}

const COMMA = 44;
const QUOTE = 34;
const LF = 10;
const CR = 13;

const enum State {
  /** At the start of a field. */
  FieldStart,
  Unquoted,
  Quoted,
  /** Just after a quote inside a quoted field: a second quote is an escaped one, anything else closes it. */
  QuotedQuote,
}

export class CsvReader {
  private state = State.FieldStart;
  private fields: string[] = [];
  /** The current field's text from earlier chunks (a field cut by a chunk boundary). */
  private field = '';
  private line = 1;
  private recordLine = 1;
  /** A record just ended on CR: an LF right after it belongs to the same line break. */
  private afterCr = false;
  private started = false;

  constructor(private readonly sink: CsvSink) {}

  /** Feeds the next chunk of text (already decoded; a multi-byte character must not be split). */
  push(chunk: string): void {
    let s = chunk;
    if (!this.started) {
      this.started = true;
      if (s.charCodeAt(0) === 0xfeff) s = s.slice(1);
    }
    const n = s.length;
    // Start of the current field's text within this chunk.
    let from = 0;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (this.afterCr) {
        this.afterCr = false;
        if (c === LF) {
          from = i + 1;
          continue;
        }
      }
      switch (this.state) {
        case State.FieldStart:
          if (c === QUOTE) {
            this.state = State.Quoted;
            from = i + 1;
          } else if (c === COMMA) {
            this.fields.push('');
          } else if (c === LF || c === CR) {
            // After a comma the line break ends an empty last field.
            if (this.fields.length > 0) this.fields.push('');
            this.endRecord(c);
          } else {
            this.state = State.Unquoted;
            from = i;
          }
          break;
        case State.Unquoted:
          if (c === COMMA) {
            this.fields.push(this.field + s.slice(from, i));
            this.field = '';
            this.state = State.FieldStart;
          } else if (c === LF || c === CR) {
            this.fields.push(this.field + s.slice(from, i));
            this.field = '';
            this.endRecord(c);
          }
          break;
        case State.Quoted: {
          // Jump to the next quote; the line breaks skipped over are inside the field.
          const q = s.indexOf('"', i);
          const end = q < 0 ? n : q;
          for (let j = i; j < end; j++) if (s.charCodeAt(j) === LF) this.line++;
          if (q < 0) {
            i = n;
            break;
          }
          this.field += s.slice(from, q);
          this.state = State.QuotedQuote;
          i = q;
          break;
        }
        case State.QuotedQuote:
          if (c === QUOTE) {
            this.state = State.Quoted;
            from = i;
          } else if (c === COMMA) {
            this.fields.push(this.field);
            this.field = '';
            this.state = State.FieldStart;
          } else if (c === LF || c === CR) {
            this.fields.push(this.field);
            this.field = '';
            this.endRecord(c);
          } else {
            this.state = State.Unquoted;
            from = i;
          }
          break;
      }
    }
    if (this.state === State.Unquoted || this.state === State.Quoted) this.field += s.slice(from);
  }

  /** Ends the input: emits the last record if it has no line break, or reports an unclosed quote. */
  end(): void {
    if (this.state === State.Quoted) {
      this.sink.malformed(this.recordLine, 'a quoted field is never closed');
    } else if (this.state !== State.FieldStart || this.fields.length > 0) {
      this.fields.push(this.field);
      this.sink.record(this.fields, this.recordLine);
    }
    this.fields = [];
    this.field = '';
    this.state = State.FieldStart;
  }

  private endRecord(c: number): void {
    // A line with nothing on it is not a record.
    if (this.fields.length > 0) {
      this.sink.record(this.fields, this.recordLine);
      this.fields = [];
    }
    this.state = State.FieldStart;
    this.afterCr = c === CR;
    this.line++;
    this.recordLine = this.line;
  }
}

/** Reads a whole stream of text chunks through a CsvReader. */
export async function readCsv(chunks: AsyncIterable<string | Buffer>, sink: CsvSink): Promise<void> {
  const reader = new CsvReader(sink);
  const decoder = new TextDecoder('utf-8');
  for await (const chunk of chunks) {
    reader.push(typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true }));
  }
  const rest = decoder.decode();
  if (rest) reader.push(rest);
  reader.end();
}

/** One field as CSV: quoted when it holds a comma, a quote or a line break. */
export function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}
