"""The console's pages, one module per page (each an ``APIRouter`` under ``/console``)."""
