/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

/* The module the mail plugin loads when a login has to ask the job store
   (import-remote-queue.h) */

#include "lib.h"
#include "import-remote-event.h"
#include "trigger-queue.h"
#include "import-remote-queue.h"

const char *import_remote_queue_version = DOVECOT_ABI_VERSION;

void import_remote_queue_init(struct module *module ATTR_UNUSED)
{
}

void import_remote_queue_deinit(void)
{
	import_remote_event_deinit();
}

int import_remote_queue_user(struct mail_user *user, const char **error_r)
{
	return trigger_queue(user, error_r);
}
