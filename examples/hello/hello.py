"""Fetch a URL and print its status and size (the example project's code)."""

import click
import requests
from rich.console import Console


@click.command()
@click.argument("url")
def main(url: str) -> None:
    response = requests.get(url, timeout=10)
    Console().print(f"[bold]{url}[/bold]: {response.status_code}, {len(response.content)} bytes")


if __name__ == "__main__":
    main()
