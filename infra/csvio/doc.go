// Package csvio reads the CSV files of the original Capstone system into
// typed rows, and writes the CSV exports that coordinators open in a
// spreadsheet.
//
// Imports are uploaded by people who edited the file in Excel or a text
// editor, so the package is built around telling them what to fix: a file is
// refused whole only when it cannot be understood at all (unreadable header,
// missing columns, not CSV, over the size or row limits); otherwise every bad
// row becomes a RowError with the physical line number an editor shows, and
// the good rows are kept so one typo does not block two hundred students.
// Only one RowError is produced per row (its problems are joined with "; "),
// so the report never has more entries than the file has rows.
//
// Uploads are also untrusted input. Limits caps bytes, rows and field length
// before anything is kept in memory; invalid UTF-8 is reported, never passed
// on; messages quote at most 40 characters of a value and never a password.
//
// Exports defend the other direction: a cell that starts with =, +, -, @, tab
// or carriage return would be run as a formula by a spreadsheet (CSV
// injection), so the writer prefixes it with an apostrophe, as OWASP
// recommends. To keep export -> import lossless, Parse removes exactly that
// one apostrophe again: a cell is unescaped when it starts with "'" and what
// follows, ignoring further apostrophes, starts with one of those characters.
// The writer escapes every cell that rule would unescape (including a value
// that itself starts with "'="), so a value read by Parse survives a round
// trip unchanged. Passwords are the exception: they are only trimmed, since
// they are never exported and must reach the caller exactly as typed.
package csvio
