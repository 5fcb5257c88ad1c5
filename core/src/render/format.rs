//! Rendered `.tf` files laid out as `terraform fmt` lays them out, whatever the template's spacing
//! or what a filter like `json` wrote: the `=` of consecutive one-line attributes aligned, one
//! space after a comma, `{ "k" : "v" }` in object constructors. Strings, comments and heredocs
//! are left exactly as they are; so is each line's indentation.

/// A line, split into code and what formatting must not touch.
#[derive(Debug, PartialEq)]
enum Piece<'a> {
    Code(&'a str),
    /// A quoted string with its quotes, or a comment to the end of the line.
    Verbatim(&'a str),
}

/// What the lines before this one left open.
#[derive(Debug, Default, Clone, Copy)]
struct Carry {
    /// Inside a `/* … */` comment.
    comment: bool,
}

/// Splits one line into code and verbatim pieces; returns whether a block comment stays open.
fn pieces(line: &str, carry: Carry) -> (Vec<Piece<'_>>, Carry) {
    let bytes = line.as_bytes();
    let mut out = Vec::new();
    let mut start = 0;
    let mut at = 0;
    let mut carry = carry;
    if carry.comment {
        match line.find("*/") {
            Some(end) => {
                out.push(Piece::Verbatim(&line[..end + 2]));
                start = end + 2;
                at = start;
                carry.comment = false;
            }
            None => return (vec![Piece::Verbatim(line)], carry),
        }
    }
    while at < bytes.len() {
        match bytes[at] {
            b'"' => {
                if start < at {
                    out.push(Piece::Code(&line[start..at]));
                }
                let end = string_end(bytes, at);
                out.push(Piece::Verbatim(&line[at..end]));
                start = end;
                at = end;
            }
            b'#' => break,
            b'/' if bytes.get(at + 1) == Some(&b'/') => break,
            b'/' if bytes.get(at + 1) == Some(&b'*') => {
                if start < at {
                    out.push(Piece::Code(&line[start..at]));
                }
                match line[at + 2..].find("*/") {
                    Some(end) => {
                        let end = at + 2 + end + 2;
                        out.push(Piece::Verbatim(&line[at..end]));
                        start = end;
                        at = end;
                    }
                    None => {
                        out.push(Piece::Verbatim(&line[at..]));
                        carry.comment = true;
                        return (out, carry);
                    }
                }
            }
            _ => at += 1,
        }
    }
    if start < at {
        out.push(Piece::Code(&line[start..at]));
    }
    if at < bytes.len() {
        out.push(Piece::Verbatim(&line[at..]));
    }
    (out, carry)
}

/// Strings nested in interpolations deeper than this are taken to the end of the line as they
/// are: a rendered line may be hostile, and the walk must not recurse without bound.
const MAX_STRING_NESTING: usize = 32;

/// The end of the string starting at `start` (a `"`), past its closing quote; template
/// interpolations (`${ … }`) may hold strings of their own.
fn string_end(bytes: &[u8], start: usize) -> usize {
    nested_string_end(bytes, start, 0)
}

fn nested_string_end(bytes: &[u8], start: usize, nesting: usize) -> usize {
    if nesting > MAX_STRING_NESTING {
        return bytes.len();
    }
    let mut at = start + 1;
    let mut depth = 0usize;
    while at < bytes.len() {
        match bytes[at] {
            b'\\' => at += 2,
            b'$' | b'%' if bytes.get(at + 1) == Some(&b'{') => {
                depth += 1;
                at += 2;
            }
            b'}' if depth > 0 => {
                depth -= 1;
                at += 1;
            }
            b'"' if depth > 0 => at = nested_string_end(bytes, at, nesting + 1),
            b'"' => return at + 1,
            _ => at += 1,
        }
    }
    bytes.len()
}

/// One code piece with terraform's spacing: `, ` after commas, ` : ` and `{ … }` in objects.
fn space_code(code: &str, out: &mut String, last: &mut Option<char>, next_piece: Option<char>) {
    let chars: Vec<char> = code.chars().collect();
    for (index, &c) in chars.iter().enumerate() {
        let next = chars.get(index + 1).copied().or(next_piece);
        let prev = *last;
        match c {
            ',' => {
                trim_spaces(out);
                out.push(',');
                if next.is_some_and(|n| n != ' ' && n != ']' && n != ')' && n != '}') {
                    out.push(' ');
                }
            }
            ':' if prev != Some(':') && next != Some(':') => {
                trim_spaces(out);
                if !out.is_empty() {
                    out.push(' ');
                }
                out.push(':');
                if next.is_some_and(|n| n != ' ') {
                    out.push(' ');
                }
            }
            '{' => {
                out.push('{');
                if next.is_some_and(|n| n != ' ' && n != '}') {
                    out.push(' ');
                }
            }
            '}' if prev.is_some_and(|p| p != ' ' && p != '{') && !out.trim().is_empty() => {
                out.push(' ');
                out.push('}');
            }
            ' ' if out.ends_with(' ') && !out.trim().is_empty() => {}
            _ => out.push(c),
        }
        *last = out.chars().last();
    }
}

fn trim_spaces(out: &mut String) {
    while out.ends_with(' ') && !out.trim().is_empty() {
        out.pop();
    }
}

/// A line with terraform's spacing (its indentation kept), and how much it opens or closes
/// brackets (strings and comments aside).
fn respace(line: &str, carry: Carry) -> (String, i32, Carry) {
    let indent_len = line.len() - line.trim_start().len();
    let (indent, rest) = line.split_at(indent_len);
    if carry.comment {
        let (_, carry) = pieces(line, carry);
        return (line.trim_end().to_owned(), 0, carry);
    }
    let (parts, carry) = pieces(rest, carry);
    let mut out = String::from(indent);
    let mut body = String::new();
    let mut last = None;
    let mut balance = 0;
    for (index, part) in parts.iter().enumerate() {
        match part {
            Piece::Code(code) => {
                balance += code.chars().filter(|c| "{[(".contains(*c)).count() as i32;
                balance -= code.chars().filter(|c| "}])".contains(*c)).count() as i32;
                let next = parts.get(index + 1).and_then(|next| match next {
                    Piece::Verbatim(text) => text.chars().next(),
                    Piece::Code(code) => code.chars().next(),
                });
                space_code(code, &mut body, &mut last, next);
            }
            Piece::Verbatim(text) => {
                let text = unwrapped(text);
                body.push_str(text);
                last = text.chars().last();
            }
        }
    }
    out.push_str(body.trim_end());
    (out, balance, carry)
}

/// A string that is one interpolation and nothing else (`"${var.x}"`) as the expression itself,
/// as `terraform fmt` writes it; anything else as it is.
fn unwrapped(text: &str) -> &str {
    let Some(inner) = text
        .strip_prefix("\"${")
        .and_then(|rest| rest.strip_suffix("}\""))
    else {
        return text;
    };
    let simple = !inner.is_empty()
        && inner
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-[]*".contains(c));
    if simple { inner } else { text }
}

/// The name of the attribute a one-line `name = value` line sets, and where its `=` is.
fn attribute(line: &str) -> Option<(&str, &str)> {
    let trimmed = line.trim_start();
    let bytes = trimmed.as_bytes();
    // A name, or (an object's key) a quoted string.
    let name_len = match bytes.first()? {
        b'"' => string_end(bytes, 0),
        first if first.is_ascii_alphabetic() || *first == b'_' => trimmed
            .char_indices()
            .find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-'))
            .map_or(trimmed.len(), |(at, _)| at),
        _ => return None,
    };
    let (name, after) = trimmed.split_at(name_len);
    let value = after.trim_start().strip_prefix('=')?;
    if value.starts_with('=') || value.starts_with('>') {
        return None;
    }
    Some((name, value.trim_start()))
}

/// Whether a line starts a heredoc, and its end marker.
fn heredoc(line: &str) -> Option<String> {
    let at = line.find("<<")?;
    let marker = line[at + 2..].trim_start_matches('-');
    let marker: String = marker
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    (!marker.is_empty()).then_some(marker)
}

/// A `.tf` file as `terraform fmt` would lay it out (see the module's doc).
pub fn format(text: &str) -> String {
    struct Line {
        text: String,
        /// One-line attribute: its indentation, name and value.
        attribute: Option<(String, String, String)>,
    }
    let mut lines = Vec::new();
    let mut carry = Carry::default();
    let mut in_heredoc: Option<String> = None;
    for raw in text.lines() {
        if let Some(marker) = &in_heredoc {
            if raw.trim() == marker {
                in_heredoc = None;
            }
            lines.push(Line {
                text: raw.to_owned(),
                attribute: None,
            });
            continue;
        }
        let was_comment = carry.comment;
        let (spaced, balance, next) = respace(raw, carry);
        carry = next;
        in_heredoc = heredoc(&spaced).filter(|_| !was_comment);
        let attribute = (balance == 0 && in_heredoc.is_none() && !was_comment)
            .then(|| attribute(&spaced))
            .flatten()
            .map(|(name, value)| {
                let indent = &spaced[..spaced.len() - spaced.trim_start().len()];
                (indent.to_owned(), name.to_owned(), value.to_owned())
            });
        lines.push(Line {
            text: spaced,
            attribute,
        });
    }
    // Align runs of one-line attributes at the same indentation.
    let mut out = String::with_capacity(text.len());
    let mut index = 0;
    while index < lines.len() {
        let Some((indent, _, _)) = &lines[index].attribute else {
            out.push_str(&lines[index].text);
            out.push('\n');
            index += 1;
            continue;
        };
        let end = (index..lines.len())
            .find(|&at| {
                lines[at]
                    .attribute
                    .as_ref()
                    .is_none_or(|(other, _, _)| other != indent)
            })
            .unwrap_or(lines.len());
        let width = lines[index..end]
            .iter()
            .filter_map(|line| line.attribute.as_ref())
            .map(|(_, name, _)| name.chars().count())
            .max()
            .unwrap_or(0);
        for line in &lines[index..end] {
            if let Some((indent, name, value)) = &line.attribute {
                let line = format!("{indent}{name:<width$} = {value}");
                out.push_str(line.trim_end());
                out.push('\n');
            }
        }
        index = end;
    }
    if !text.ends_with('\n') {
        out.pop();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::format;

    /// The expected text is what `terraform fmt` (1.11) printed for the input.
    #[test]
    fn attributes_align_and_values_are_spaced_as_terraform_fmt_does() {
        let text = "module \"x\" {\n  source  = \"a\"\n  version = \"1.0.0\"\n  zones = [\"a\",\"b\"]\n  tags = {\"env\":\"dev\",\"n\":1}\n\n  name = \"s, t: {u}\" # keep: this, too\n  multi = {\n    a=1\n    \"k-1\" = 2\n  }\n  after = provider::aws::arn_parse(\"x\")\n  empty = {}\n  pw = \"${var.pw}\"\n  both = \"${var.a}-${var.b}\"\n}\n";
        assert_eq!(
            format(text),
            "module \"x\" {\n  source  = \"a\"\n  version = \"1.0.0\"\n  zones   = [\"a\", \"b\"]\n  tags    = { \"env\" : \"dev\", \"n\" : 1 }\n\n  name = \"s, t: {u}\" # keep: this, too\n  multi = {\n    a     = 1\n    \"k-1\" = 2\n  }\n  after = provider::aws::arn_parse(\"x\")\n  empty = {}\n  pw    = var.pw\n  both  = \"${var.a}-${var.b}\"\n}\n"
        );
    }

    #[test]
    fn heredocs_and_block_comments_are_left_alone() {
        let text = "x {\n  a = <<EOT\nb=1,c\nEOT\n  /* a=1,\n  b */\n  cc = 1\n}\n";
        assert_eq!(
            format(text),
            "x {\n  a = <<EOT\nb=1,c\nEOT\n  /* a=1,\n  b */\n  cc = 1\n}\n"
        );
    }

    #[test]
    fn strings_nested_without_end_are_walked_without_recursing_without_bound() {
        let hostile = format!("  a = {}\n", "\"${".repeat(200_000));
        let formatted = format(&hostile);
        assert_eq!(formatted, hostile);
    }
}
