"""The Streamlit search page."""
