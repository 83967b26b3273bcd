"""What every layer shares: errors (one ``ReportingError`` root), periods, settings, atomic file
writes, the result cache and the KPI registry. Imports nothing else of ``reporting``."""
