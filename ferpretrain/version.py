__version__ = '0.1.0'


def parse_version_info(version_str):
    """Parse ``'0.1.0'`` or ``'0.1.0rc1'`` into a comparable tuple."""
    parts = []
    for piece in version_str.split('.'):
        digits = ''.join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


version_info = parse_version_info(__version__)
