"""Public request and response models, under the seeds' schema titles."""
