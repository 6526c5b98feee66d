#ifndef IMPORT_PROGRESS_H
#define IMPORT_PROGRESS_H

/* Counters of a running import, and how they are shown to people. */
struct import_progress {
	/* display name of the folder being copied (NULL between folders) */
	const char *folder;
	unsigned int folders_done, folders_total;
	/* messages handled (imported, skipped or failed) out of all */
	unsigned int msgs_done, msgs_total;
	uoff_t bytes_done, bytes_total;
	/* messages listed so far, whatever became of them (copied, skipped,
	   filtered, covered by the checkpoint): bytes_total is known for
	   them, the rest is estimated from their average (0: unknown, e.g.
	   a job's progress read back from the store) */
	unsigned int msgs_listed;

	unsigned int imported;
	unsigned int skipped_duplicates;
	unsigned int filtered_by_date;
	unsigned int failed;
	uoff_t bytes_imported;

	/* times the source connection was lost and made again, and why it
	   was lost the last time (NULL if never) */
	unsigned int reconnects;
	const char *last_disconnect;

	/* milliseconds since the import started */
	unsigned int elapsed_msecs;
};

/* Bytes per second so far (0 if unknown) */
uoff_t import_progress_get_rate(const struct import_progress *progress);
/* How much of the run is done, in thousandths (0..1000): by bytes, those of
   the mail listed to copy and, for the messages not listed yet, their
   estimate at the listed ones' average size; by messages while none was
   listed, or nothing listed is to copy. 1000 only once every message is
   done. */
unsigned int import_progress_get_permille(const struct import_progress *progress);
/* Estimated seconds left for the run (by import_progress_get_permille()),
   -1 if unknown */
int import_progress_get_eta_secs(const struct import_progress *progress);
/* "12.3 MB" style size */
const char *import_progress_format_size(uoff_t bytes);
/* "1:02:03" / "2:03" style duration */
const char *import_progress_format_duration(unsigned int secs);
/* A wait as the log says it, in seconds whatever its length: "1 s",
   "0.5 s", "60 s" */
const char *import_progress_format_wait(unsigned int msecs);
/* One progress line, everything of the run but the folder's name, e.g.
   "1234/20396 msgs, 45.2 MB, 12.3 MB/s, ETA 0:42 [folder 1/3: INBOX]"
   (and ", reconnects=N (last: why)" once the connection was lost) */
const char *import_progress_format_line(const struct import_progress *progress);

#endif
