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

static unsigned int
import_progress_msgs_permille(const struct import_progress *progress)
{
	/* (nothing counted yet: nothing done) */
	if (progress->msgs_total == 0)
		return 0;
	if (progress->msgs_done >= progress->msgs_total)
		return 1000;
	return (unsigned int)((uint64_t)progress->msgs_done * 1000 /
			      progress->msgs_total);
}

unsigned int import_progress_get_permille(const struct import_progress *progress)
{
	uint64_t unlisted, estimate, permille;

	if (progress->msgs_listed == 0 || progress->bytes_total == 0)
		return import_progress_msgs_permille(progress);
	if (progress->msgs_done >= progress->msgs_total)
		return 1000;
	unlisted = progress->msgs_total -
		I_MIN(progress->msgs_total, (uint64_t)progress->msgs_listed +
		      progress->filtered_by_date);
	/* (sizes are bounded by what a server may announce, counts by
	   2^32: no overflow) */
	estimate = progress->bytes_total +
		unlisted * (progress->bytes_total / progress->msgs_listed);
	permille = progress->bytes_done >= estimate ? 1000 :
		progress->bytes_done * 1000 / estimate;
	/* not all done: never says 100 % */
	return (unsigned int)I_MIN(permille, 999);
}

int import_progress_get_eta_secs(const struct import_progress *progress)
{
	unsigned int permille;

	if (progress->elapsed_msecs < 1000)
		return -1;
	permille = import_progress_get_permille(progress);
	if (permille == 0)
		return -1;
	return (int)((uint64_t)progress->elapsed_msecs * (1000 - permille) /
		     permille / 1000);
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
