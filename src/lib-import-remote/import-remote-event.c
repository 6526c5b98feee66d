/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

#include "lib.h"
#include "import-remote-event.h"

struct event_category event_category_import_remote = {
	.name = "import-remote",
};

static struct event *import_remote_process_event = NULL;

struct event *import_remote_event_create(struct event *parent)
{
	struct event *event;

	event = event_create(parent);
	event_add_category(event, &event_category_import_remote);
	event_set_append_log_prefix(event, "import-remote: ");
	return event;
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
