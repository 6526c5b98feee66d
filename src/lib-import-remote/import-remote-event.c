/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

#include "lib.h"
#include "import-remote-event.h"

struct event_category event_category_import_remote = {
	.name = "import-remote",
};

static struct event *import_remote_process_event = NULL;

bool import_remote_event_is_ours(struct event *event)
{
	struct event_category *const *categories;
	unsigned int i, count;

	for (; event != NULL; event = event_get_parent(event)) {
		categories = event_get_categories(event, &count);
		for (i = 0; i < count; i++) {
			/* by name: each module has its own copy of the
			   category */
			if (strcmp(categories[i]->name,
				   event_category_import_remote.name) == 0)
				return TRUE;
		}
	}
	return FALSE;
}

struct event *import_remote_event_create(struct event *parent)
{
	struct event *event;

	event = event_create(parent);
	event_add_category(event, &event_category_import_remote);
	/* a child of one of ours (a job's run, a run's folder) has the
	   prefix already */
	if (!import_remote_event_is_ours(parent))
		event_set_append_log_prefix(event, "import-remote: ");
	return event;
}

struct event_passthrough *
import_remote_event_job_queued(struct event *parent, const char *origin,
			       unsigned long long job_id,
			       unsigned long long batch_id,
			       const char *user, const char *source_host,
			       unsigned int source_port,
			       const char *source_user)
{
	struct event_passthrough *e;

	e = event_create_passthrough(parent)->
		set_name("import_remote_job_queued")->
		add_str("origin", origin)->
		add_str("user", user)->
		add_str("source_host", source_host)->
		add_int("source_port", source_port)->
		add_str("source_user", source_user);
	if (job_id != 0)
		e->add_int("job_id", job_id);
	if (batch_id != 0)
		e->add_int("batch_id", batch_id);
	return e;
}

struct event *import_remote_event(void)
{
	if (import_remote_process_event == NULL)
		import_remote_process_event = import_remote_event_create(NULL);
	return import_remote_process_event;
}

void import_remote_event_deinit(void)
{
	if (import_remote_process_event != NULL)
		event_unref(&import_remote_process_event);
}
