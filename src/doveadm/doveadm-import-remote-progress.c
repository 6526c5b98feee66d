/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

#include "lib.h"
#include "str.h"
#include "import-progress.h"
#include "doveadm-import-remote.h"
#include "doveadm-import-remote-progress.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/ioctl.h>

#define PROGRESS_BAR_MAX_WIDTH 30
#define PROGRESS_BAR_MIN_WIDTH 10
/* a folder's name is cut to no fewer characters than this before the bar
   goes */
#define PROGRESS_NAME_MIN_CHARS 8
#define PROGRESS_DEFAULT_COLUMNS 80

void doveadm_import_remote_progress_init(
	struct doveadm_import_remote_progress *display)
{
	i_zero(display);
	display->tty = isatty(STDERR_FILENO) == 1;
}

static unsigned int progress_terminal_columns(void)
{
	struct winsize ws;
	const char *env;
	unsigned int columns;

	if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	/* (a terminal that doesn't say: the shell's idea, then 80) */
	env = getenv("COLUMNS");
	if (env != NULL && str_to_uint(env, &columns) == 0 && columns > 0)
		return I_MIN(columns, 1000);
	return PROGRESS_DEFAULT_COLUMNS;
}

/* What the line says after the percent and the bar, each part to be left
   out, in this order, when the terminal is too narrow */
enum progress_part {
	PROGRESS_PART_BYTES,
	PROGRESS_PART_RATE,
	PROGRESS_PART_ETA,
	PROGRESS_PART_RECONNECTS,
	PROGRESS_PART_FOLDER,

	PROGRESS_PART_COUNT
};

const char *
doveadm_import_remote_progress_bar(const char *prefix,
				   const struct import_progress *progress,
				   unsigned int permille, unsigned int columns,
				   unsigned int *chars_r)
{
	const char *parts[PROGRESS_PART_COUNT];
	unsigned int part_chars[PROGRESS_PART_COUNT];
	const char *head, *msgs, *folder_end, *name = NULL;
	unsigned int avail, used, name_chars = 0, bar_width = 0, filled, i;
	string_t *line = t_str_new(256);
	int eta;

	/* the last column is left alone: some terminals wrap on it */
	avail = columns > 1 ? columns - 1 : 1;
	head = t_strdup_printf("%s%s%3u%%",
		prefix == NULL ? "" :
		doveadm_import_remote_sanitize(prefix, 200, NULL),
		prefix == NULL ? "" : ": ", permille / 10);
	msgs = t_strdup_printf(" %u/%u msgs", progress->msgs_done,
			       progress->msgs_total);

	i_zero(&parts);
	parts[PROGRESS_PART_BYTES] = t_strdup_printf(", %s",
		import_progress_format_size(progress->bytes_done));
	parts[PROGRESS_PART_RATE] = t_strdup_printf(", %s/s",
		import_progress_format_size(import_progress_get_rate(progress)));
	eta = permille < 1000 ? import_progress_get_eta_secs(progress) : -1;
	if (eta >= 0) {
		parts[PROGRESS_PART_ETA] = t_strdup_printf(", ETA %s",
			import_progress_format_duration(eta));
	}
	if (progress->reconnects > 0) {
		parts[PROGRESS_PART_RECONNECTS] = t_strdup_printf(
			", reconnects=%u", progress->reconnects);
	}
	/* the folder's name is the server's: sanitized, counted in
	   characters (a wide character may take two columns: rare enough
	   for a line redrawn each quarter second) */
	folder_end = t_strdup_printf(" (%u/%u)", progress->folders_done +
		(progress->folder != NULL ? 1 : 0), progress->folders_total);
	if (progress->folder != NULL) {
		(void)doveadm_import_remote_sanitize(progress->folder, 4096,
						     &name_chars);
		parts[PROGRESS_PART_FOLDER] = "";
	} else {
		parts[PROGRESS_PART_FOLDER] = t_strdup_printf(", folder %u/%u",
			progress->folders_done, progress->folders_total);
	}
	for (i = 0; i < PROGRESS_PART_COUNT; i++)
		part_chars[i] = parts[i] == NULL ? 0 : strlen(parts[i]);
	if (progress->folder != NULL)
		part_chars[PROGRESS_PART_FOLDER] = 2 + name_chars + strlen(folder_end);

	/* the percent and the messages always; then the narrowest bar; then
	   the parts in order while they fit; the bar takes what is left */
	used = strlen(head) + strlen(msgs);
	if (used + PROGRESS_BAR_MIN_WIDTH + 3 <= avail) {
		bar_width = PROGRESS_BAR_MIN_WIDTH;
		used += bar_width + 3;
	}
	for (i = 0; i < PROGRESS_PART_COUNT; i++) {
		if (parts[i] == NULL)
			continue;
		if (used + part_chars[i] <= avail) {
			used += part_chars[i];
			continue;
		}
		if (i == PROGRESS_PART_FOLDER && progress->folder != NULL &&
		    used + part_chars[i] - name_chars +
		    PROGRESS_NAME_MIN_CHARS <= avail) {
			/* the name cut to what fits */
			name_chars = avail - (used + part_chars[i] - name_chars);
			used = avail;
			continue;
		}
		parts[i] = NULL;
	}
	if (bar_width > 0)
		bar_width += I_MIN(avail - used,
				   PROGRESS_BAR_MAX_WIDTH - bar_width);
	if (progress->folder != NULL && parts[PROGRESS_PART_FOLDER] != NULL) {
		name = doveadm_import_remote_sanitize(progress->folder,
						      name_chars, NULL);
		parts[PROGRESS_PART_FOLDER] = t_strconcat(", ", name,
							  folder_end, NULL);
	}

	str_append(line, head);
	if (bar_width > 0) {
		filled = I_MIN(permille, 1000) * bar_width / 1000;
		str_append(line, " [");
		for (i = 0; i < bar_width; i++) {
			str_append_c(line, i < filled ? '=' :
				     (i == filled && permille > 0 ? '>' : ' '));
		}
		str_append_c(line, ']');
	}
	str_append(line, msgs);
	for (i = 0; i < PROGRESS_PART_COUNT; i++) {
		if (parts[i] != NULL)
			str_append(line, parts[i]);
	}
	/* (a prefix too long for the terminal is cut: a line longer than
	   the terminal wraps, and the next one is drawn under it instead of
	   over it) */
	return doveadm_import_remote_sanitize(str_c(line), avail, chars_r);
}

void doveadm_import_remote_progress_draw(
	struct doveadm_import_remote_progress *display, const char *prefix,
	const struct import_progress *progress, bool final)
{
	unsigned int permille, chars;
	const char *line;

	if (!display->tty) {
		line = import_progress_format_line(progress);
		if (prefix != NULL) {
			line = t_strdup_printf("%s: %s",
				doveadm_import_remote_sanitize(prefix, 200, NULL),
				line);
		}
		fprintf(stderr, "progress: %s\n",
			doveadm_import_remote_sanitize(line, 4096, NULL));
		fflush(stderr);
		return;
	}

	permille = import_progress_get_permille(progress);
	if (permille < display->permille)
		permille = display->permille;
	display->permille = permille;
	line = doveadm_import_remote_progress_bar(prefix, progress, permille,
		progress_terminal_columns(), &chars);
	/* redraw in place, over all of a longer previous line */
	fprintf(stderr, "\r%s", line);
	if (chars < display->last_chars)
		fprintf(stderr, "%*s", (int)(display->last_chars - chars), "");
	display->last_chars = chars;
	if (final) {
		fputc('\n', stderr);
		display->last_chars = 0;
	}
	fflush(stderr);
}
