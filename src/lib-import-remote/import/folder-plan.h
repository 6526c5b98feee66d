#ifndef FOLDER_PLAN_H
#define FOLDER_PLAN_H

/* The folder plan: which remote folder lands in which local mailbox.
   Pure logic (no I/O) so it is unit-tested on its own:
   - the remote personal namespace prefix (e.g. "INBOX.") is dropped;
   - the remote separator becomes the local one, modified UTF-7 is decoded,
     every other character is kept as it is;
   - special-use folders (\Sent, \Drafts, \Trash, \Junk, \Archive) land in
     the user's local special-use mailbox, or in the mailbox of the usual
     name (Sent, Drafts, ...) when the user has none;
   - Gmail: All Mail brings only the mail no other folder has, into the
     \Archive mailbox ("All Mail" when there is none and a label lands in
     "Archive"); Starred and Important are listed, not copied;
   - \Noselect parents are not created;
   - every mapping says why (its reason), and real folders are imported
     before aggregate ones (folder_plan_import_order());
   - --folder/--exclude patterns and --dest-parent are applied;
   - a name the local storage cannot hold is reported, never altered. */

enum folder_special_use {
	FOLDER_SPECIAL_USE_NONE = 0,
	FOLDER_SPECIAL_USE_SENT,
	FOLDER_SPECIAL_USE_DRAFTS,
	FOLDER_SPECIAL_USE_TRASH,
	FOLDER_SPECIAL_USE_JUNK,
	FOLDER_SPECIAL_USE_ARCHIVE,
	FOLDER_SPECIAL_USE_ALL,
	FOLDER_SPECIAL_USE_FLAGGED,
	FOLDER_SPECIAL_USE_IMPORTANT,

	FOLDER_SPECIAL_USE_COUNT
};

struct remote_folder {
	/* the name exactly as the server sent it (modified UTF-7) */
	const char *remote_name;
	/* hierarchy separator, '\0' if flat */
	char separator;
	bool noselect;
	bool subscribed;
	enum folder_special_use special_use;
	/* from STATUS, 0 if unknown: used where EXAMINE leaves them out */
	uint32_t status_uidnext, status_uidvalidity;
	/* the LIST told its STATUS (LIST-STATUS): MESSAGES, UIDNEXT and
	   UIDVALIDITY need no STATUS command */
	bool have_status;
	uint32_t status_messages;
	/* the name was longer than FOLDER_PLAN_MAX_NAME_LENGTH: remote_name
	   is only its start (to be named), the folder is not imported */
	bool name_too_long;
};
ARRAY_DEFINE_TYPE(remote_folder, struct remote_folder);

/* A remote folder name longer than this (bytes, as sent) is not imported:
   no local mailbox name is that long in practice, and a server's list of
   them would take memory by its own measure */
#define FOLDER_PLAN_MAX_NAME_LENGTH 1024

/* Gmail: where All Mail's mail that no label has lands when the user has
   no \Archive mailbox and a label of theirs lands in "Archive" */
#define FOLDER_PLAN_GMAIL_ALL_MAIL_NAME "All Mail"

struct folder_plan_settings {
	/* remote personal namespace prefix, e.g. "INBOX." or "" */
	const char *ns_prefix;
	/* local hierarchy separator */
	char local_separator;
	/* import everything under this local mailbox (NULL = no) */
	const char *dest_parent;
	/* patterns ('/' as separator, '*' and '%' wildcards); NULL-terminated
	   or NULL for none. With include patterns, only matches are imported. */
	const char *const *include;
	const char *const *exclude;
	/* the user's local special-use mailboxes, NULL where none */
	const char *local_special[FOLDER_SPECIAL_USE_COUNT];
	/* handle the folders as Gmail's labels (folder_plan_is_gmail()) */
	bool gmail;
	/* the server tells each message's labels (X-GM-LABELS) */
	bool gmail_labels;
};

/* What the import does with a folder it opens */
enum folder_plan_action {
	/* copy its messages into dest_name */
	FOLDER_PLAN_COPY = 0,
	/* Gmail's All Mail: copy only what no other folder has (each other
	   folder is one of the message's labels) */
	FOLDER_PLAN_COPY_REMAINING,
	/* an aggregate of other folders' mail (Gmail's Starred, Important):
	   listed and counted, not copied */
	FOLDER_PLAN_COUNT_ONLY,
};

struct folder_plan_entry {
	const struct remote_folder *remote;
	/* decoded name with the prefix removed and '/' as separator: what
	   users see and what patterns match */
	const char *display_name;
	/* local mailbox name (vname), NULL if the name can't be held */
	const char *dest_name;
	/* why the folder lands there or is not copied ("" if it keeps its
	   name), e.g. "\Trash"; NULL when error is set */
	const char *reason;
	enum folder_special_use special_use;
	enum folder_plan_action action;
	/* a special-use folder that lands in the mailbox of the usual name:
	   the user has no mailbox of that use */
	bool special_use_fallback;
	/* not created or imported: a \Noselect parent */
	bool noselect;
	/* left out by --folder/--exclude */
	bool excluded;
	/* why the folder cannot be imported (NULL = it can) */
	const char *error;
};
ARRAY_DEFINE_TYPE(folder_plan_entry, struct folder_plan_entry);

/* Parse a special-use flag such as "\Sent"; NONE if it isn't one. */
enum folder_special_use folder_special_use_parse(const char *flag);
const char *folder_special_use_flag(enum folder_special_use use);

/* TRUE if the folders are laid out like Gmail's: an \All folder and a
   "[Gmail]" (or "[Google Mail]") parent. The X-GM-EXT-1 capability says
   so too (the caller checks it). */
bool folder_plan_is_gmail(const ARRAY_TYPE(remote_folder) *remote_folders,
			  const char *ns_prefix);

/* Build the plan for all remote folders. Entries are allocated from pool. */
void folder_plan_build(pool_t pool, const struct folder_plan_settings *set,
		       const ARRAY_TYPE(remote_folder) *remote_folders,
		       ARRAY_TYPE(folder_plan_entry) *entries_r);

/* TRUE if the entry's messages are to be imported */
bool folder_plan_entry_is_imported(const struct folder_plan_entry *entry);
/* TRUE if the import opens the folder: imported, or only counted */
bool folder_plan_entry_is_examined(const struct folder_plan_entry *entry);

/* Gmail: the labels (as X-GM-LABELS names them) of the entries copied as
   folders: a folder's name for the user's own labels, \Inbox, \Sent,
   \Draft, \Trash, \Spam, \Starred or \Important for Gmail's. A message of
   All Mail with one of them is copied by that folder. Allocated from pool;
   free with folder_plan_labels_free(). */
struct folder_plan_labels;
struct folder_plan_labels *
folder_plan_copied_labels(pool_t pool,
			  const ARRAY_TYPE(folder_plan_entry) *entries);
/* TRUE if label is one of them (Gmail's own case-insensitively) */
bool folder_plan_labels_contain(struct folder_plan_labels *labels,
				const char *label);
void folder_plan_labels_free(struct folder_plan_labels **labels);

/* The order in which to import the entries (indexes into entries): INBOX,
   special-use folders, the user's folders, aggregates (\Flagged,
   \Important), \All last; otherwise as listed. Whatever order the server
   lists them in, every real folder is complete before an aggregate's
   copies of its mail are looked at (--dedup account keeps the first). */
void folder_plan_import_order(const ARRAY_TYPE(folder_plan_entry) *entries,
			      ARRAY_TYPE(uint32_t) *order_r);

#endif
