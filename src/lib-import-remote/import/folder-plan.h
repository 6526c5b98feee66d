#ifndef FOLDER_PLAN_H
#define FOLDER_PLAN_H

/* The folder plan: which remote folder lands in which local mailbox.
   Pure logic (no I/O) so it is unit-tested on its own:
   - the remote personal namespace prefix (e.g. "INBOX.") is dropped;
   - the remote separator becomes the local one, modified UTF-7 is decoded,
     every other character is kept as it is;
   - special-use folders (\Sent, \Drafts, \Trash, \Junk, \Archive) land in
     the user's local special-use mailbox, when the user has one;
   - \Noselect parents are not created;
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
};
ARRAY_DEFINE_TYPE(remote_folder, struct remote_folder);

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
};

struct folder_plan_entry {
	const struct remote_folder *remote;
	/* decoded name with the prefix removed and '/' as separator: what
	   users see and what patterns match */
	const char *display_name;
	/* local mailbox name (vname), NULL if the name can't be held */
	const char *dest_name;
	enum folder_special_use special_use;
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

/* Build the plan for all remote folders. Entries are allocated from pool. */
void folder_plan_build(pool_t pool, const struct folder_plan_settings *set,
		       const ARRAY_TYPE(remote_folder) *remote_folders,
		       ARRAY_TYPE(folder_plan_entry) *entries_r);

/* TRUE if the entry's messages are to be imported */
bool folder_plan_entry_is_imported(const struct folder_plan_entry *entry);

#endif
