/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

#include "lib.h"
#include "array.h"
#include "mail-namespace.h"
#include "mail-storage-settings.h"
#include "mail-user.h"
#include "import-remote-compat.h"

void import_remote_compat_ssl_client_settings(struct mail_user *user,
		struct ssl_iostream_settings *ssl_set_r)
{
	mail_user_init_ssl_client_settings(user, ssl_set_r);
}

void import_remote_compat_special_use_mailboxes(struct mail_namespace *ns,
		import_remote_special_use_callback_t *callback, void *context)
{
	struct mailbox_settings *const *box_setp;

	if (!array_is_created(&ns->set->mailboxes))
		return;
	array_foreach(&ns->set->mailboxes, box_setp) {
		if ((*box_setp)->special_use != NULL &&
		    (*box_setp)->special_use[0] != '\0')
			callback((*box_setp)->name, (*box_setp)->special_use,
				 context);
	}
}
