def _stub(*args, **kwargs):
    raise NotImplementedError("torchvision stub")


download_url = download_and_extract_archive = extract_archive = verify_str_arg = _stub
