"""operators layer of airflow-provider-polaris."""
