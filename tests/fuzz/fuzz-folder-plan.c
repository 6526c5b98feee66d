/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

/* libFuzzer: the folder plan (import/folder-plan.c): the remote folders'
   names (modified UTF-7), separators, flags and special uses as a server
   lists them, with the namespace prefix, the local separator, --folder,
   --exclude and --dest-parent.

   Input, lines separated by LF:
     1: local separator byte, flags byte, remote namespace prefix
     2: --dest-parent (when flags has 0x10)
     3: --folder patterns, separated by TAB
     4: --exclude patterns, separated by TAB
     5...: a folder: its separator byte (NUL: flat), flags byte (0x01
           \Noselect, 0x02 subscribed, 0x3c special use), its name */

#include "fuzz-common.h"
#include "array.h"
#include "folder-plan.h"

#define FUZZ_MAX_FOLDERS 1000

struct fuzz_reader {
	const unsigned char *data;
	size_t size;
};

/* the next line (without its LF); FALSE at the end */
static bool
fuzz_next_line(struct fuzz_reader *r, const unsigned char **line_r,
	       size_t *size_r)
{
	const unsigned char *lf;

	if (r->size == 0)
		return FALSE;
	*line_r = r->data;
	lf = memchr(r->data, '\n', r->size);
	*size_r = lf == NULL ? r->size : (size_t)(lf - r->data);
	r->data += *size_r;
	r->size -= *size_r;
	if (lf != NULL) {
		r->data++;
		r->size--;
	}
	return TRUE;
}

static const char *const *
fuzz_patterns(const unsigned char *line, size_t size)
{
	if (size == 0)
		return NULL;
	return (const char *const *)t_strsplit(t_strndup(line, size), "\t");
}

static bool
fuzz_remote_exists(const ARRAY_TYPE(remote_folder) *remote, const char *name)
{
	const struct remote_folder *rf;

	array_foreach(remote, rf) {
		if (strcmp(rf->remote_name, name) == 0)
			return TRUE;
	}
	return FALSE;
}

static void fuzz_one(const unsigned char *data, size_t size)
{
	struct fuzz_reader r = { .data = data, .size = size };
	struct folder_plan_settings set;
	ARRAY_TYPE(remote_folder) remote;
	ARRAY_TYPE(folder_plan_entry) plan;
	ARRAY_TYPE(uint32_t) order;
	const struct folder_plan_entry *entry;
	struct folder_plan_labels *labels;
	struct remote_folder *rf;
	const struct remote_folder *crf;
	const unsigned char *line;
	const uint32_t *idx;
	const char *name;
	size_t line_size, total = 0;
	unsigned char flags = 0;
	pool_t pool;

	i_zero(&set);
	set.ns_prefix = "";
	set.local_separator = '/';
	if (fuzz_next_line(&r, &line, &line_size)) {
		if (line_size > 0 && line[0] != '\0')
			set.local_separator = (char)line[0];
		if (line_size > 1)
			flags = line[1];
		if (line_size > 2)
			set.ns_prefix = t_strndup(line + 2, line_size - 2);
	}
	set.gmail = (flags & 0x01) != 0;
	set.gmail_labels = (flags & 0x02) != 0;
	if ((flags & 0x04) != 0)
		set.local_special[FOLDER_SPECIAL_USE_SENT] = "Sent Items";
	if ((flags & 0x08) != 0)
		set.local_special[FOLDER_SPECIAL_USE_ARCHIVE] = "Archive";
	if ((flags & 0x20) != 0)
		set.local_special[FOLDER_SPECIAL_USE_TRASH] = "Deleted Items";
	if (fuzz_next_line(&r, &line, &line_size) && (flags & 0x10) != 0)
		set.dest_parent = t_strndup(line, line_size);
	if (fuzz_next_line(&r, &line, &line_size))
		set.include = fuzz_patterns(line, line_size);
	if (fuzz_next_line(&r, &line, &line_size))
		set.exclude = fuzz_patterns(line, line_size);

	pool = pool_alloconly_create("fuzz folder plan", 4096);
	p_array_init(&remote, pool, 16);
	while (array_count(&remote) < FUZZ_MAX_FOLDERS &&
	       fuzz_next_line(&r, &line, &line_size)) {
		if (line_size < 2)
			continue;
		/* as import-run.c keeps a listed folder */
		name = t_strndup(line + 2, line_size - 2);
		if (fuzz_remote_exists(&remote, name))
			continue;
		rf = array_append_space(&remote);
		if (strlen(name) > FOLDER_PLAN_MAX_NAME_LENGTH) {
			rf->remote_name = p_strndup(pool, name, 64);
			rf->name_too_long = TRUE;
		} else {
			rf->remote_name = p_strdup(pool, name);
		}
		rf->separator = (char)line[0];
		rf->noselect = (line[1] & 0x01) != 0;
		rf->subscribed = (line[1] & 0x02) != 0;
		rf->special_use = ((line[1] >> 2) & 0x0f) %
			FOLDER_SPECIAL_USE_COUNT;
		/* a flag as LIST gives it */
		(void)folder_special_use_parse(
			folder_special_use_flag(rf->special_use));
		(void)folder_special_use_parse(rf->remote_name);
	}

	if (folder_plan_is_gmail(&remote, set.ns_prefix))
		set.gmail = TRUE;
	folder_plan_build(pool, &set, &remote, &plan);
	i_assert(array_count(&plan) == array_count(&remote));
	/* every string handed out is read */
	array_foreach(&plan, entry) {
		total += strlen(entry->remote->remote_name) +
			strlen(entry->display_name);
		/* (no reason for a name that cannot be held) */
		i_assert(entry->reason != NULL || entry->error != NULL);
		if (entry->reason != NULL)
			total += strlen(entry->reason);
		if (entry->dest_name != NULL)
			total += strlen(entry->dest_name);
		if (entry->error != NULL)
			total += strlen(entry->error);
		(void)folder_plan_entry_is_imported(entry);
		(void)folder_plan_entry_is_examined(entry);
	}
	t_array_init(&order, array_count(&plan) + 1);
	folder_plan_import_order(&plan, &order);
	array_foreach(&order, idx)
		i_assert(*idx < array_count(&plan));

	labels = folder_plan_copied_labels(pool, &plan);
	array_foreach(&remote, crf)
		(void)folder_plan_labels_contain(labels, crf->remote_name);
	(void)folder_plan_labels_contain(labels, "\\Inbox");
	folder_plan_labels_free(&labels);
	(void)total;
	pool_unref(&pool);
}
