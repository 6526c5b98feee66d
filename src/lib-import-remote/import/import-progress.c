/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

#include "lib.h"
#include "str.h"
#include "import-progress.h"

uoff_t import_progress_get_rate(const struct import_progress *progress)
{
	if (progress->elapsed_msecs == 0)
		return 0;
	return progress->bytes_done * 1000 / progress->elapsed_msecs;
}

int import_progress_get_eta_secs(const struct import_progress *progress)
{
	uoff_t left, total, done;

	/* the run's messages: counted up front (the bytes to copy are known
	   only as each folder is listed, so they can't tell the rest) */
	total = progress->msgs_total;
	done = progress->msgs_done;
	if (done == 0 || progress->elapsed_msecs < 1000 || done > total)
		return -1;
	left = total - done;
	return (int)(left * progress->elapsed_msecs / done / 1000);
}

const char *import_progress_format_size(uoff_t bytes)
{
	if (bytes < 1024*1024)
		return t_strdup_printf("%"PRIuUOFF_T".%"PRIuUOFF_T" kB",
				       bytes / 1024, (bytes % 1024) * 10 / 1024);
	if (bytes < 1024ULL*1024*1024) {
		return t_strdup_printf("%"PRIuUOFF_T".%"PRIuUOFF_T" MB",
			bytes / (1024*1024),
			(bytes % (1024*1024)) * 10 / (1024*1024));
	}
	return t_strdup_printf("%"PRIuUOFF_T".%02"PRIuUOFF_T" GB",
		(uoff_t)(bytes / (1024ULL*1024*1024)),
		(uoff_t)((bytes % (1024ULL*1024*1024)) * 100 /
			 (1024ULL*1024*1024)));
}

const char *import_progress_format_duration(unsigned int secs)
{
	if (secs >= 3600) {
		return t_strdup_printf("%u:%02u:%02u", secs / 3600,
				       (secs / 60) % 60, secs % 60);
	}
	return t_strdup_printf("%u:%02u", secs / 60, secs % 60);
}

const char *import_progress_format_wait(unsigned int msecs)
{
	if (msecs % 1000 == 0)
		return t_strdup_printf("%u s", msecs / 1000);
	return t_strdup_printf("%u.%u s", msecs / 1000, (msecs % 1000) / 100);
}

const char *import_progress_format_line(const struct import_progress *progress)
{
	string_t *str = t_str_new(128);
	int eta;

	/* everything but the folder's name is the run's: messages, bytes,
	   rate and ETA */
	str_printfa(str, "%u/%u msgs, %s, %s/s", progress->msgs_done,
		    progress->msgs_total,
		    import_progress_format_size(progress->bytes_done),
		    import_progress_format_size(import_progress_get_rate(progress)));
	eta = import_progress_get_eta_secs(progress);
	if (eta >= 0)
		str_printfa(str, ", ETA %s", import_progress_format_duration(eta));
	str_printfa(str, " [folder %u/%u", progress->folders_done +
		    (progress->folder != NULL ? 1 : 0), progress->folders_total);
	if (progress->folder != NULL)
		str_printfa(str, ": %s", progress->folder);
	str_append_c(str, ']');
	if (progress->reconnects > 0) {
		str_printfa(str, ", reconnects=%u (last: %s)",
			    progress->reconnects, progress->last_disconnect);
	}
	return str_c(str);
}
