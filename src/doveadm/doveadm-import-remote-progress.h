#ifndef DOVEADM_IMPORT_REMOTE_PROGRESS_H
#define DOVEADM_IMPORT_REMOTE_PROGRESS_H

struct import_progress;

/* Progress on standard error, where a person watches (run, watch): on a
   terminal a bar redrawn in place, sized to the terminal's width; a plain
   line otherwise (logs, control panels reading the output). */
struct doveadm_import_remote_progress {
	bool tty;
	/* the bar never moves back: an estimate corrected down holds it */
	unsigned int permille;
	/* characters of the line drawn last, to draw over */
	unsigned int last_chars;
};

void doveadm_import_remote_progress_init(
	struct doveadm_import_remote_progress *display);
/* Draws the progress, after prefix (e.g. "job 12 running", NULL: none);
   final ends the terminal's line. */
void doveadm_import_remote_progress_draw(
	struct doveadm_import_remote_progress *display, const char *prefix,
	const struct import_progress *progress, bool final);

/* The bar's line for a terminal of that many columns (exposed for tests):
   "42% [========>           ] 1234/20396 msgs, 45.2 MB, 12.3 MB/s,
   ETA 0:42, INBOX (1/3)"; *chars_r is its width in characters. */
const char *
doveadm_import_remote_progress_bar(const char *prefix,
				   const struct import_progress *progress,
				   unsigned int permille, unsigned int columns,
				   unsigned int *chars_r);

#endif
