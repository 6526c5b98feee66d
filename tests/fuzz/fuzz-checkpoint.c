/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

/* libFuzzer: an import's checkpoint file (import/import-checkpoint.c), as
   a re-run reads it from the user's home; a folder's progress is then
   recorded (the file rewritten) and read back */

#include "fuzz-common.h"
#include "import-remote-settings.h"
#include "import-checkpoint.h"

static const char *const fuzz_folders[] = {
	"INBOX", "Sent Items", "Caf&AOk-", "a\tb", ""
};

static void fuzz_one(const unsigned char *data, size_t size)
{
	struct import_remote_settings set;
	struct import_checkpoint *cp;
	const char *path, *error;
	uint32_t last_uid, uidvalidity;
	unsigned int i;

	/* what the seeds' signature line says */
	i_zero(&set);
	set.dest_parent = "Imported";
	path = t_strconcat(fuzz_tmp_dir, "/cp.checkpoint", NULL);
	fuzz_write_file(path, data, size);

	cp = import_checkpoint_init_path(path, &set);
	for (i = 0; i < N_ELEMENTS(fuzz_folders); i++) {
		for (uidvalidity = 0; uidvalidity < 3; uidvalidity++)
			(void)import_checkpoint_get(cp, fuzz_folders[i],
						    uidvalidity, &last_uid);
	}
	/* a folder's progress (the last byte picks which) goes to the file
	   with whatever else it held, and reads back */
	i = size == 0 ? 0 : data[size - 1] % N_ELEMENTS(fuzz_folders);
	if (import_checkpoint_set(cp, fuzz_folders[i], 7, 42, &error) < 0)
		i_fatal("%s", error);
	import_checkpoint_deinit(&cp);

	cp = import_checkpoint_init_path(path, &set);
	i_assert(import_checkpoint_get(cp, fuzz_folders[i], 7, &last_uid));
	i_assert(last_uid == 42);
	import_checkpoint_deinit(&cp);
}
