__version__ = "0.1.0"
# The project's home (pyproject.toml's [project.urls] Homepage; a test keeps them equal).
# SARIF names it as the tool's informationUri and links every rule into its docs/.
__url__ = "https://github.com/colliery-io/cloacina-build"
