// Being written: see the helper task.
