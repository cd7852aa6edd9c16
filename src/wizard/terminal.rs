//! The dialoguer layer and the Ctrl-C handler: all the wizard does with a real terminal.

use std::io;

use console::{Key, Term, measure_text_width, style};
use dialoguer::theme::{ColorfulTheme, Theme};
use dialoguer::{Confirm, MultiSelect, Select};

use super::{Prompter, Question, Stop};

/// The dialoguer layer: prompts on stdout, keys from the terminal.
pub struct TerminalPrompter {
    term: Term,
    theme: ColorfulTheme,
}

impl Default for TerminalPrompter {
    fn default() -> Self {
        Self::new()
    }
}

impl TerminalPrompter {
    pub fn new() -> Self {
        TerminalPrompter {
            term: Term::stdout(),
            theme: ColorfulTheme::default(),
        }
    }

    fn help(&self, question: &Question) -> io::Result<()> {
        self.term
            .write_line(&style(format!("  {}", question.help)).dim().to_string())
    }
}

impl Prompter for TerminalPrompter {
    fn say(&mut self, text: &str) {
        // A terminal that cannot be written to fails the next prompt, which reports it.
        let _ = self.term.write_line(text);
    }

    fn refuse(&mut self, message: &str) {
        let mut line = String::new();
        let _ = self.theme.format_error(&mut line, message);
        let _ = self.term.write_line(&line);
    }

    /// dialoguer's `Input` ignores Esc, so text is read here, key by key, in the same
    /// theme: Esc cancels, Backspace deletes, Enter ends the line.
    fn text(
        &mut self,
        question: &Question,
        default: Option<&str>,
        check: &mut dyn FnMut(&str) -> Result<(), String>,
    ) -> Result<String, Stop> {
        self.help(question)?;
        loop {
            let mut prompt = String::new();
            let _ = self
                .theme
                .format_input_prompt(&mut prompt, question.prompt, default);
            self.term.write_str(&prompt)?;
            self.term.flush()?;
            let mut typed = String::new();
            loop {
                match self.term.read_key()? {
                    Key::Enter => break,
                    Key::Escape => {
                        self.term.write_line("")?;
                        return Err(Stop::Cancelled);
                    }
                    Key::Backspace if !typed.is_empty() => {
                        typed.pop();
                        self.term.clear_chars(1)?;
                    }
                    Key::Char(c) if !c.is_control() => {
                        typed.push(c);
                        self.term.write_str(c.encode_utf8(&mut [0; 4]))?;
                    }
                    _ => {}
                }
                self.term.flush()?;
            }
            match check(&typed) {
                Ok(()) => {
                    // The prompt line becomes the answer, as dialoguer's lists do.
                    let width = measure_text_width(&prompt) + measure_text_width(&typed);
                    let columns = usize::from(self.term.size().1).max(1);
                    self.term.clear_line()?;
                    self.term
                        .clear_last_lines(width.saturating_sub(1) / columns)?;
                    let answer = match default {
                        Some(default) if typed.is_empty() => default,
                        _ if typed.is_empty() => "none",
                        _ => &typed,
                    };
                    let mut line = String::new();
                    let _ = self.theme.format_input_prompt_selection(
                        &mut line,
                        question.prompt,
                        answer,
                    );
                    self.term.write_line(&line)?;
                    return Ok(typed);
                }
                Err(message) => {
                    // The refused line stays, so the message has its value in view.
                    self.term.write_line("")?;
                    self.refuse(&message);
                }
            }
        }
    }

    fn select(
        &mut self,
        question: &Question,
        items: &[String],
        default: usize,
    ) -> Result<usize, Stop> {
        self.help(question)?;
        Select::with_theme(&self.theme)
            .with_prompt(question.prompt)
            .items(items)
            .default(default)
            .interact_on_opt(&self.term)?
            .ok_or(Stop::Cancelled)
    }

    fn multi_select(
        &mut self,
        question: &Question,
        items: &[String],
        checked: &[bool],
    ) -> Result<Vec<usize>, Stop> {
        self.help(question)?;
        MultiSelect::with_theme(&self.theme)
            .with_prompt(question.prompt)
            .items_checked(items.iter().zip(checked.iter().copied()))
            .interact_on_opt(&self.term)?
            .ok_or(Stop::Cancelled)
    }

    fn confirm(&mut self, question: &Question, default: bool) -> Result<bool, Stop> {
        self.help(question)?;
        Confirm::with_theme(&self.theme)
            .with_prompt(question.prompt)
            .default(default)
            .interact_on_opt(&self.term)?
            .ok_or(Stop::Cancelled)
    }
}

/// Ctrl-C. console reads keys in raw mode and, on Ctrl-C, restores the terminal and
/// raises SIGINT itself; a Ctrl-C between keys arrives as SIGINT from the kernel. Either
/// way this handler ends the wizard: terminal settings as they were at the start, cursor
/// visible (dialoguer hides it in lists), the message, exit 130.
pub(super) mod interrupt {
    use std::sync::OnceLock;

    static SAVED: OnceLock<libc::termios> = OnceLock::new();

    fn write_all(fd: libc::c_int, bytes: &[u8]) {
        // SAFETY: write(2) is async-signal-safe and reads only `bytes`.
        unsafe {
            libc::write(fd, bytes.as_ptr().cast(), bytes.len());
        }
    }

    extern "C" fn on_interrupt(_: libc::c_int) {
        // Only async-signal-safe calls here: tcsetattr, write, _exit.
        if let Some(saved) = SAVED.get() {
            // SAFETY: `saved` is a termios that tcgetattr filled for this same fd.
            unsafe {
                libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, saved);
            }
        }
        write_all(libc::STDOUT_FILENO, b"\x1b[?25h\n");
        write_all(libc::STDERR_FILENO, b"error: ");
        write_all(libc::STDERR_FILENO, crate::error::CANCELLED.as_bytes());
        write_all(libc::STDERR_FILENO, b"\n");
        // SAFETY: _exit ends the process without running anything else.
        unsafe { libc::_exit(130) }
    }

    pub fn install() {
        let mut termios = std::mem::MaybeUninit::<libc::termios>::uninit();
        // SAFETY: tcgetattr fills `termios` when it returns 0, and only then is it read.
        if unsafe { libc::tcgetattr(libc::STDIN_FILENO, termios.as_mut_ptr()) } == 0 {
            let _ = SAVED.set(unsafe { termios.assume_init() });
        }
        // SAFETY: the handler only makes async-signal-safe calls.
        unsafe {
            libc::signal(
                libc::SIGINT,
                on_interrupt as extern "C" fn(libc::c_int) as libc::sighandler_t,
            );
        }
    }

    pub fn ignore() {
        // SAFETY: SIG_IGN installs no code.
        unsafe {
            libc::signal(libc::SIGINT, libc::SIG_IGN);
        }
    }
}
