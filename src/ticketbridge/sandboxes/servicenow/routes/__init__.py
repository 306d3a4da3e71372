"""The ServiceNow REST surface: Table API, Batch API, Attachment API, OAuth."""
