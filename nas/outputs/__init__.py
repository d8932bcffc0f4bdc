"""What leaves the tool: summaries and tables, the HTML report and its plots, progress, tracking,
and export (YAML block tables, ONNX, timm); every file a verb writes goes through `files`."""
