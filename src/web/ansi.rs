//! A job's output as text to show: ANSI colour codes (SGR) become a style per piece,
//! every other escape sequence and control character is dropped, so the page never
//! shows `\x1b[31m`. The pieces are plain text; the page escapes them as it writes them.

/// One of the eight colours of SGR 30-37 (and 90-97, their bright forms).
const COLOURS: [&str; 8] = [
    "black", "red", "green", "yellow", "blue", "magenta", "cyan", "white",
];

/// How a piece of output is drawn.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Style {
    /// An index into the eight colours.
    pub colour: Option<usize>,
    pub bold: bool,
}

impl Style {
    /// The CSS classes of the style: `fg-red bold`; empty for plain text.
    pub fn classes(self) -> String {
        let mut classes = Vec::new();
        if let Some(colour) = self.colour {
            classes.push(format!("fg-{}", COLOURS[colour]));
        }
        if self.bold {
            classes.push("bold".into());
        }
        classes.join(" ")
    }

    fn apply(&mut self, params: &str) {
        let codes: Vec<u32> = params.split(';').map(|p| p.parse().unwrap_or(0)).collect();
        let mut codes = codes.iter().copied();
        while let Some(code) = codes.next() {
            match code {
                0 => *self = Style::default(),
                1 => self.bold = true,
                22 => self.bold = false,
                30..=37 => self.colour = Some((code - 30) as usize),
                90..=97 => self.colour = Some((code - 90) as usize),
                39 => self.colour = None,
                // 256-colour and true-colour forms: their arguments are skipped.
                38 | 48 => match codes.next() {
                    Some(5) => {
                        codes.next();
                    }
                    Some(2) => {
                        codes.nth(2);
                    }
                    _ => {}
                },
                _ => {}
            }
        }
    }
}

/// `text` cut into pieces of one style each, without escape sequences, starting in
/// style `style` (the style the output before it ended in); the style it ends in.
pub fn pieces(text: &str, mut style: Style) -> (Vec<(Style, String)>, Style) {
    let mut out: Vec<(Style, String)> = Vec::new();
    let mut current = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\x1b' => {
                match chars.next() {
                    Some('[') => {
                        // CSI: parameters, then one final byte in @..~.
                        let mut params = String::new();
                        let mut last = None;
                        for c in chars.by_ref() {
                            if ('@'..='~').contains(&c) {
                                last = Some(c);
                                break;
                            }
                            params.push(c);
                        }
                        if last == Some('m') {
                            if !current.is_empty() {
                                out.push((style, std::mem::take(&mut current)));
                            }
                            style.apply(&params);
                        }
                    }
                    Some(']') => {
                        // OSC (a title, a link): up to BEL or ESC \.
                        while let Some(c) = chars.next() {
                            if c == '\x07' {
                                break;
                            }
                            if c == '\x1b' {
                                chars.next();
                                break;
                            }
                        }
                    }
                    _ => {}
                }
            }
            '\n' | '\t' => current.push(c),
            c if c.is_control() => {}
            c => current.push(c),
        }
    }
    if !current.is_empty() {
        out.push((style, current));
    }
    (out, style)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(text: &str) -> String {
        pieces(text, Style::default())
            .0
            .into_iter()
            .map(|(_, t)| t)
            .collect()
    }

    #[test]
    fn colours_become_styles_and_no_escape_is_left() {
        let (got, end) = pieces(
            "ok \x1b[31mred\x1b[0m \x1b[1;92mbold green",
            Style::default(),
        );
        let classes: Vec<(String, &str)> =
            got.iter().map(|(s, t)| (s.classes(), t.as_str())).collect();
        assert_eq!(
            classes,
            vec![
                (String::new(), "ok "),
                ("fg-red".into(), "red"),
                (String::new(), " "),
                ("fg-green bold".into(), "bold green"),
            ]
        );
        assert_eq!(end.colour, Some(2));
    }

    #[test]
    fn other_sequences_and_controls_are_dropped() {
        assert_eq!(plain("a\x1b[2Kb\x1b]0;title\x07c\x00d\r\n"), "abcd\n");
        assert_eq!(plain("\x1b[38;5;196mx\x1b[38;2;1;2;3my"), "xy");
        // A sequence cut off at the end leaves nothing behind.
        assert_eq!(plain("end\x1b[3"), "end");
    }

    #[test]
    fn markup_stays_text_for_the_page_to_escape() {
        assert_eq!(
            plain("<script>alert(1)</script>"),
            "<script>alert(1)</script>"
        );
    }
}
