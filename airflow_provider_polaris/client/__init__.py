"""client layer of airflow-provider-polaris."""
